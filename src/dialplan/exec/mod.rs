//! Running the dialplan: variables, functions, expressions and applications.
