//! PBX tests: calls driven through a real core with a recording media engine.
