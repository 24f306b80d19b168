//! Dialplan tests: patterns, match order, reading, lookups and bad input, on an in-memory
//! file system (and the sample `etc/extensions.conf`).

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::config::Severity;
use crate::config::ini::{MemFs, RealFs};

const FILE: &str = "/c/extensions.conf";

fn load(text: &str) -> Loaded {
    load_with(MemFs::new(), text)
}

fn load_with(fs: MemFs, text: &str) -> Loaded {
    match Dialplan::load_str(&fs, Path::new(FILE), text) {
        Ok(l) => l,
        Err(e) => panic!("fatal: {e}"),
    }
}

/// Loads text that must produce no diagnostics at all.
fn clean(text: &str) -> Dialplan {
    let l = load(text);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    l.dialplan
}

/// The name of the extension `exten` finds in `ctx`.
fn found(d: &Dialplan, ctx: &str, exten: &str) -> Option<String> {
    d.find(ctx, exten).map(|e| e.name().to_string())
}

fn matches(pattern: &str, exten: &str) -> bool {
    match Pattern::parse(pattern) {
        Ok(p) => p.matches(exten),
        Err(e) => panic!("{e}"),
    }
}

/// The one error diagnostic, checked to be on `line` of the test file.
fn only_error(l: &Loaded, line: u32) -> &Diagnostic {
    let errors: Vec<&Diagnostic> = l.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{:#?}", l.diagnostics);
    let d = errors[0];
    let loc = d.location.as_ref().map(ToString::to_string);
    assert_eq!(
        loc.as_deref(),
        Some(format!("{FILE}:{line}").as_str()),
        "{d}"
    );
    d
}

// ---- patterns ----

#[test]
fn literal_extensions_match_exactly_ignoring_dashes() {
    assert!(matches("6001", "6001"));
    assert!(!matches("6001", "600"));
    assert!(!matches("6001", "60011"));
    assert!(matches("555-1234", "5551234"));
    assert!(matches("5551234", "555-1234"));
    // Literal extensions are case-sensitive, as in Asterisk.
    assert!(matches("s", "s"));
    assert!(!matches("s", "S"));
    assert!(!matches("invalid", "Invalid"));
    // Without '_' the wildcard letters are just letters.
    assert!(matches("X", "X"));
    assert!(!matches("X", "5"));
}

#[test]
fn x_z_n_wildcards_in_either_case() {
    for p in ["_X", "_x"] {
        assert!(matches(p, "0") && matches(p, "9"), "{p}");
        assert!(
            !matches(p, "a") && !matches(p, "") && !matches(p, "12"),
            "{p}"
        );
    }
    for p in ["_Z", "_z"] {
        assert!(
            matches(p, "1") && matches(p, "9") && !matches(p, "0"),
            "{p}"
        );
    }
    for p in ["_N", "_n"] {
        assert!(matches(p, "2") && matches(p, "9"), "{p}");
        assert!(!matches(p, "1") && !matches(p, "0"), "{p}");
    }
    assert!(matches("_NXXNXXXXXX", "2125551234"));
    assert!(!matches("_NXXNXXXXXX", "2121551234"));
}

#[test]
fn literal_characters_in_patterns_are_exact_and_case_sensitive() {
    assert!(matches("_600X", "6005"));
    assert!(!matches("_600X", "7005"));
    assert!(matches("_*7X", "*75"));
    assert!(matches("_#s", "#s"));
    assert!(!matches("_#s", "#S"));
    // Dashes in the pattern and in the number are ignored.
    assert!(matches("_NXX-XXXX", "555-1234"));
    assert!(matches("_NXX-XXXX", "5551234"));
}

#[test]
fn sets_and_ranges() {
    let p = "_[1-5a]X";
    for ok in ["10", "59", "a0"] {
        assert!(matches(p, ok), "{ok}");
    }
    for bad in ["60", "00", "b0", "A0", "1"] {
        assert!(!matches(p, bad), "{bad}");
    }
    // Wildcard letters inside a set are literal characters.
    assert!(matches("_[X]", "X"));
    assert!(!matches("_[X]", "5"));
    // A '-' at either end of a set is literal.
    assert!(matches("_[a-]", "a"));
    assert!(matches("_1[-2]3", "123"));
    // Several ranges and singles.
    assert!(matches("_[0-24-6]", "5"));
    assert!(!matches("_[0-24-6]", "3"));
}

#[test]
fn dot_is_one_or_more_and_bang_zero_or_more() {
    assert!(matches("_0.", "01"));
    assert!(matches("_0.", "012345"));
    assert!(!matches("_0.", "0"));
    assert!(!matches("_0.", "1"));
    assert!(matches("_0!", "0"));
    assert!(matches("_0!", "0123"));
    assert!(!matches("_0!", "1"));
    assert!(matches("_!", ""));
    assert!(!matches("_.", ""));
    assert!(matches("_.", "anything at all"));
    // Nothing after '.' is ever looked at.
    assert!(matches("_1.5", "1999"));
}

#[test]
fn a_number_written_as_the_pattern_itself_matches_it() {
    assert!(matches("_600X", "_600X"));
    assert!(matches("_600X", "_600[0-9]"));
    assert!(!matches("_600X", "_600N"));
}

#[test]
fn pattern_warnings_and_errors() {
    let (p, w) = match Pattern::parse_with_warnings("_1[]2") {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    assert!(p.matches("12"), "empty set is ignored");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("empty set"), "{w:?}");

    let (p, w) = match Pattern::parse_with_warnings("_[9-0]") {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    assert!(!p.matches("5"));
    assert!(w.iter().any(|w| w.contains("reversed")), "{w:?}");

    let (_, w) = match Pattern::parse_with_warnings("_1.5") {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    assert!(w.iter().any(|w| w.contains("nothing after '.'")), "{w:?}");

    assert_eq!(
        Pattern::parse("_12[34"),
        Err(PatternError::UnclosedSet {
            pattern: "_12[34".to_string(),
            position: 3
        })
    );
}

#[test]
fn equivalent_patterns_are_equal() {
    let same = [
        ("_X", "_[0-9]"),
        ("_N", "_[2-9]"),
        ("_Z", "_[1-9]"),
        ("_x", "_X"),
        ("_[21]", "_[12]"),
        ("_6-0-0-X", "_600X"),
        ("_6", "_[6]"),
        ("555-1234", "5551234"),
    ];
    for (a, b) in same {
        assert_eq!(Pattern::parse(a), Pattern::parse(b), "{a} vs {b}");
    }
    assert_ne!(Pattern::parse("_6"), Pattern::parse("6"));
}

#[test]
fn match_order_follows_asterisk_specificity() {
    // Each is tried before the next (Asterisk's ext_cmp).
    let ordered = [
        "6001", "_6001", "_600[01]", "_600[12]", "_600N", "_600Z", "_600X", "_60XX", "_6XXX",
        "_N.", "_X.", "_X!", "_X",
    ];
    let parsed: Vec<Pattern> = ordered
        .iter()
        .map(|p| match Pattern::parse(p) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        })
        .collect();
    for (i, w) in parsed.windows(2).enumerate() {
        assert!(
            w[0] < w[1],
            "{} should come before {}",
            ordered[i],
            ordered[i + 1]
        );
    }
    let mut shuffled = parsed.clone();
    shuffled.reverse();
    shuffled.sort();
    assert_eq!(shuffled, parsed);
}

#[test]
fn most_specific_pattern_wins_whatever_the_file_order() {
    let d = clean(
        "[c]\n\
         exten => _X.,1,NoOp(any)\n\
         exten => _6XXX,1,NoOp(6xxx)\n\
         exten => _60XX,1,NoOp(60xx)\n\
         exten => _600X,1,NoOp(600x)\n\
         exten => 6001,1,NoOp(exact)\n\
         exten => _[67]00[01],1,NoOp(set)\n\
         exten => _12!,1,NoOp(bang)\n\
         exten => _12,1,NoOp(plain)\n",
    );
    assert_eq!(found(&d, "c", "6001").as_deref(), Some("6001"));
    assert_eq!(found(&d, "c", "6000").as_deref(), Some("_600X"));
    assert_eq!(found(&d, "c", "7000").as_deref(), Some("_[67]00[01]"));
    assert_eq!(found(&d, "c", "6005").as_deref(), Some("_600X"));
    assert_eq!(found(&d, "c", "6055").as_deref(), Some("_60XX"));
    assert_eq!(found(&d, "c", "6555").as_deref(), Some("_6XXX"));
    assert_eq!(found(&d, "c", "65555").as_deref(), Some("_X."));
    // '!' sorts before the end of a pattern, so `_12!` beats `_12` for "12" (as Asterisk).
    assert_eq!(found(&d, "c", "12").as_deref(), Some("_12!"));
    assert_eq!(found(&d, "c", "").as_deref(), None);
    let order: Vec<&str> = d
        .context("c")
        .map(|c| c.extensions().iter().map(Extension::name).collect())
        .unwrap_or_default();
    assert_eq!(
        order,
        vec![
            "6001",
            "_12!",
            "_12",
            "_600X",
            "_60XX",
            "_6XXX",
            "_[67]00[01]",
            "_X."
        ]
    );
}

#[test]
fn special_names_are_plain_extensions() {
    let d = clean(
        "[c]\nexten => s,1,Answer()\nexten => i,1,Hangup()\nexten => t,1,Hangup()\n\
         exten => h,1,NoOp()\nexten => invalid,1,NoOp()\n",
    );
    for e in ["s", "i", "t", "h", "invalid"] {
        assert!(d.exists("c", e), "{e}");
    }
    assert!(!d.exists("c", "S"));
    assert!(!d.exists("c", "x"));
}

// ---- reading ----

#[test]
fn general_and_globals_are_not_contexts() {
    let d = clean(
        "[general]\nstatic=yes\n[globals]\nTRUNK=mytrunk\nTRUNK=other\nX=1\n\
         [GLOBALS]\nY=2\n[c]\nexten => 1,1,NoOp()\n",
    );
    let names: Vec<&str> = d.contexts().map(Context::name).collect();
    assert_eq!(names, vec!["c"]);
    assert_eq!(d.globals().get("TRUNK").map(String::as_str), Some("other"));
    assert_eq!(d.globals().get("Y").map(String::as_str), Some("2"));
    assert!(d.context("general").is_none());
}

#[test]
fn priorities_keep_number_label_app_args_and_location() {
    let d = clean(
        "[c]\n\
         exten => 100,1(start),NoOp(Call to ${EXTEN})\n\
          same => n,Set(A=b,c)\n\
          same => n(again),Dial(PJSIP/${EXTEN},30)\n\
          same => n,Hangup\n\
         exten => 100,10,Goto(start)\n",
    );
    let Some(e) = d.find("c", "100") else {
        panic!("100 not found")
    };
    let got: Vec<(u32, Option<&str>, &str, &str, u32)> = e
        .priorities()
        .iter()
        .map(|p| {
            (
                p.number,
                p.label.as_deref(),
                p.app.as_str(),
                p.args.as_str(),
                p.location.line,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("start"), "NoOp", "Call to ${EXTEN}", 2),
            (2, None, "Set", "A=b,c", 3),
            (3, Some("again"), "Dial", "PJSIP/${EXTEN},30", 4),
            (4, None, "Hangup", "", 5),
            (10, None, "Goto", "start", 6),
        ]
    );
    assert_eq!(e.label("again").map(|p| p.number), Some(3));
    assert_eq!(e.priority(10).map(|p| p.app.as_str()), Some("Goto"));
    assert!(e.priority(5).is_none());
    assert_eq!(e.location().to_string(), format!("{FILE}:2"));
}

#[test]
fn same_n_numbering_counts_from_the_previous_line() {
    let d = clean(
        "[c]\n\
         exten => 1,1,NoOp()\n\
          same => n,NoOp()\n\
          same => 5,NoOp()\n\
          same => n,NoOp()\n\
          same => next,NoOp()\n\
         exten => 1,n+2,NoOp()\n\
         exten => 2,1,NoOp()\n\
          same => n(lbl),NoOp()\n\
          same => lbl+5,NoOp()\n",
    );
    let nums = |x: &str| -> Vec<u32> {
        d.find("c", x)
            .map(|e| e.priorities().iter().map(|p| p.number).collect())
            .unwrap_or_default()
    };
    assert_eq!(nums("1"), vec![1, 2, 5, 6, 7, 10]);
    assert_eq!(nums("2"), vec![1, 2, 7]);
}

#[test]
fn n_on_a_new_extension_follows_asterisk_and_warns_about_priority_1() {
    let l = load("[c]\nexten => 1,1,NoOp()\n same => n,NoOp()\nexten => 2,n,NoOp()\n");
    let d = &l.dialplan;
    let two = d.context("c").and_then(|c| {
        c.extensions()
            .iter()
            .find(|e| e.name() == "2")
            .map(|e| e.priorities()[0].number)
    });
    assert_eq!(two, Some(3));
    assert!(!d.exists("c", "2"), "no priority 1");
    assert_eq!(l.diagnostics.len(), 1, "{:#?}", l.diagnostics);
    let w = &l.diagnostics[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("no priority 1"), "{w}");
    assert_eq!(w.location.as_ref().map(|l| l.line), Some(4));
}

#[test]
fn hints_are_kept_and_do_not_make_an_extension_callable() {
    let d = clean(
        "[c]\n\
         exten => 6001,hint,PJSIP/6001&Custom:DND6001\n\
         exten => 6002,hint,PJSIP/6002\n\
          same => 1,Dial(PJSIP/6002)\n\
         exten => _600X,1,Dial(PJSIP/${EXTEN})\n\
         exten => 7000,hint,PJSIP/7000\n",
    );
    // 6001 has only a hint: a call goes on to the pattern, as in Asterisk.
    assert_eq!(found(&d, "c", "6001").as_deref(), Some("_600X"));
    assert_eq!(found(&d, "c", "6002").as_deref(), Some("6002"));
    assert!(!d.exists("c", "7000"));
    assert_eq!(
        d.hint("c", "6001").map(|h| h.value.as_str()),
        Some("PJSIP/6001&Custom:DND6001")
    );
    assert_eq!(d.hint("c", "6002").map(|h| h.location.line), Some(3));
    assert!(d.hint("c", "6003").is_none());
}

#[test]
fn caller_id_form() {
    let d = clean(
        "[c]\n\
         exten => 100/5551234,1,NoOp(vip)\n\
         exten => 100,1,NoOp(everyone)\n\
         exten => 200/_555XXXX,1,NoOp(local callers only)\n\
         exten => 300/(555) 12-34,1,NoOp(cleaned)\n",
    );
    let app = |f: Option<Found<'_>>| {
        f.and_then(|f| f.extension.priority(1))
            .map(|p| p.args.clone())
    };
    // Without a caller id: the unrestricted one, and restricted-only ones count.
    assert_eq!(
        d.find("c", "100")
            .and_then(|e| e.priority(1))
            .map(|p| p.args.as_str()),
        Some("everyone")
    );
    assert!(d.exists("c", "200"));
    assert_eq!(
        d.find("c", "200").and_then(Extension::caller_id),
        Some("_555XXXX")
    );
    // With a caller id, as Asterisk.
    assert_eq!(
        app(d.lookup("c", "100", CallerId::Number("5551234"))).as_deref(),
        Some("vip")
    );
    assert_eq!(
        app(d.lookup("c", "100", CallerId::Number("5559999"))).as_deref(),
        Some("everyone")
    );
    assert!(d.lookup("c", "200", CallerId::Number("5550000")).is_some());
    assert!(d.lookup("c", "200", CallerId::Number("6660000")).is_none());
    assert!(d.lookup("c", "200", CallerId::Number("")).is_none());
    assert_eq!(
        d.find("c", "300").and_then(Extension::caller_id),
        Some("5551234")
    );
    assert!(d.lookup("c", "300", CallerId::Number("555-1234")).is_some());
}

#[test]
fn same_continues_the_caller_id_extension() {
    let d = clean("[c]\nexten => 100/555,1,NoOp()\n same => n,Hangup()\n");
    let e = d.lookup("c", "100", CallerId::Number("555"));
    assert_eq!(e.map(|f| f.extension.priorities().len()), Some(2));
}

#[test]
fn includes_are_searched_after_own_extensions_in_order() {
    let d = clean(
        "[a]\n\
         include => b\n\
         include => c\n\
         exten => _1XX,1,NoOp(a)\n\
         [b]\n\
         exten => 100,1,NoOp(b)\n\
         exten => 200,1,NoOp(b)\n\
         include => d\n\
         [c]\n\
         exten => 200,1,NoOp(c)\n\
         exten => 300,1,NoOp(c)\n\
         [d]\n\
         exten => 400,1,NoOp(d)\n",
    );
    let ctx = |x: &str| {
        d.lookup("a", x, CallerId::Ignore)
            .map(|f| f.context.name().to_string())
    };
    // The own pattern beats the included exact match.
    assert_eq!(ctx("100").as_deref(), Some("a"));
    assert_eq!(ctx("200").as_deref(), Some("b"));
    assert_eq!(ctx("300").as_deref(), Some("c"));
    // Includes of includes.
    assert_eq!(ctx("400").as_deref(), Some("d"));
    assert_eq!(ctx("500"), None);
    let incs: Vec<&str> = d
        .context("a")
        .map(|c| c.includes().iter().map(|i| i.context.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(incs, vec!["b", "c"]);
}

#[test]
fn include_loops_terminate() {
    let d = clean(
        "[a]\ninclude => b\nexten => 1,1,NoOp()\n\
         [b]\ninclude => a\ninclude => b\ninclude => c\n\
         [c]\ninclude => a\nexten => 3,1,NoOp()\n",
    );
    assert!(d.exists("a", "1"));
    assert!(d.exists("b", "1"));
    assert!(d.exists("a", "3"));
    assert!(d.exists("c", "1"));
    assert!(!d.exists("a", "2"));
    assert!(!d.exists("b", "2"));
}

#[test]
fn include_timing_is_kept_and_missing_contexts_warned() {
    let l = load(
        "[a]\ninclude => b,09:00-17:00,mon-fri,*,*\ninclude => nowhere\ninclude => b,09:00-17:00,mon-fri,*,*\n[b]\nexten => 1,1,NoOp()\n",
    );
    let d = &l.dialplan;
    assert!(d.exists("a", "1"), "timed includes always apply");
    let inc = d
        .context("a")
        .map(|c| c.includes().to_vec())
        .unwrap_or_default();
    assert_eq!(inc.len(), 2);
    assert_eq!(inc[0].timing.as_deref(), Some("09:00-17:00,mon-fri,*,*"));
    let warnings: Vec<(u32, &str)> = l
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.location.as_ref().map_or(0, |l| l.line),
                d.message.as_str(),
            )
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        l.diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    assert!(
        warnings
            .iter()
            .any(|(l, m)| *l == 4 && m.contains("already included"))
    );
    assert!(
        warnings
            .iter()
            .any(|(l, m)| *l == 3 && m.contains("'nowhere'"))
    );
}

#[test]
fn sections_of_the_same_name_are_one_context_and_templates_are_not_contexts() {
    let d = clean(
        "[tmpl](!)\nexten => 9,1,NoOp(from template)\n\
         [a](tmpl)\nexten => 1,1,NoOp()\n\
         [b]\nexten => 2,1,NoOp()\n\
         [a]\nexten => 3,1,NoOp()\n",
    );
    let names: Vec<&str> = d.contexts().map(Context::name).collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(d.exists("a", "1") && d.exists("a", "3") && d.exists("a", "9"));
    assert!(!d.exists("A", "1"), "context names are case-sensitive");
    assert_eq!(
        d.find("a", "9").map(|e| e.location().line),
        Some(2),
        "inherited line keeps the template's location"
    );
}

#[test]
fn hash_include_files_keep_their_own_locations() {
    let fs = MemFs::new().with(
        "/c/more.conf",
        "[more]\nexten => 5,1,NoOp()\nexten => 5,1,NoOp()\n",
    );
    let l = load_with(fs, "[a]\ninclude => more\n#include more.conf\n");
    assert!(l.dialplan.exists("a", "5"));
    let errors: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/c/more.conf:3: error: context 'more':"),
        "{}",
        errors[0]
    );
}

#[test]
fn unreadable_file_is_an_error() {
    let r = Dialplan::load(&MemFs::new(), Path::new("/c/missing.conf"));
    assert!(r.is_err());
    let r = Dialplan::load(&RealFs, Path::new("/nonexistent/dir/extensions.conf"));
    assert!(r.is_err());
}

#[test]
fn sample_extensions_conf() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/extensions.conf");
    let l = match Dialplan::load(&RealFs, &path) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let d = &l.dialplan;
    assert_eq!(found(d, "internal", "6001").as_deref(), Some("_600X"));
    assert_eq!(found(d, "internal", "012345").as_deref(), Some("_0."));
    assert_eq!(found(d, "from-trunk", "s").as_deref(), Some("s"));
    assert!(!d.exists("internal", "7000"));
    assert!(!d.exists("general", "s"));
    let Some(e) = d.find("internal", "6001") else {
        panic!("6001")
    };
    let apps: Vec<&str> = e.priorities().iter().map(|p| p.app.as_str()).collect();
    assert_eq!(apps, vec!["NoOp", "Dial", "GotoIf", "Hangup", "Busy"]);
    assert!(d.exists("internal", "600"));
}

// ---- bad input: one error at file:line, the line skipped, the rest loaded ----

/// Loads `[c]` + `bad` + a good extension, checks the single error is on line 2 and
/// mentions `needle`, and that the good extension (line 3) loaded.
fn bad_line(bad: &str, needle: &str) -> Loaded {
    let l = load(&format!("[c]\n{bad}\nexten => 999,1,NoOp(ok)\n"));
    let d = only_error(&l, 2);
    assert!(d.message.contains(needle), "{bad}: {d}");
    assert_eq!(d.object.as_ref().map(|o| o.id.as_str()), Some("c"));
    assert!(l.dialplan.exists("c", "999"), "{bad}: the rest still loads");
    l
}

#[test]
fn missing_priority_is_reported() {
    let l = bad_line("exten => 100", "no priority");
    assert!(!l.dialplan.exists("c", "100"));
    bad_line("exten => 100,,NoOp()", "no priority");
    bad_line("exten => 100, ", "no priority");
}

#[test]
fn missing_extension_name_is_reported() {
    bad_line("exten => ,1,NoOp()", "no extension name");
}

#[test]
fn unclosed_set_is_reported() {
    let l = bad_line("exten => _12[34,1,NoOp()", "never closed");
    assert!(!l.dialplan.exists("c", "123"));
    // The `same` lines after it are reported and skipped too.
    let l = load("[c]\nexten => _[12,1,NoOp()\n same => n,NoOp()\nexten => 1,1,NoOp()\n");
    let lines: Vec<u32> = l
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.location.as_ref().map(|l| l.line))
        .collect();
    assert_eq!(lines, vec![2, 3]);
    assert!(l.dialplan.exists("c", "1"));
    bad_line("exten => 100/_5[5,1,NoOp()", "never closed");
}

#[test]
fn same_before_exten_is_reported() {
    let l = bad_line("same => n,NoOp()", "'same' before any 'exten'");
    assert_eq!(
        l.dialplan.context("c").map(|c| c.extensions().len()),
        Some(1)
    );
}

#[test]
fn n_as_first_priority_is_reported() {
    bad_line("exten => 100,n,NoOp()", "first line");
    bad_line("exten => 100,s,NoOp()", "first line");
    // After a hint, 'n' would be priority 0: Asterisk drops the line.
    let l = load("[c]\nexten => 100,hint,PJSIP/100\n same => n,NoOp()\n");
    only_error(&l, 3);
}

#[test]
fn duplicate_priority_is_reported_and_first_kept() {
    let l = load(
        "[c]\nexten => 100,1,NoOp(first)\nexten => 100,1,NoOp(second)\n same => n,NoOp(third)\n",
    );
    let d = only_error(&l, 3);
    assert!(
        d.message
            .contains("already defined at /c/extensions.conf:2"),
        "{d}"
    );
    let e = l.dialplan.find("c", "100");
    let args: Vec<&str> = e
        .map(|e| e.priorities().iter().map(|p| p.args.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(args, vec!["first", "third"]);
    // Equivalent patterns are the same extension.
    let l = load("[c]\nexten => _X,1,NoOp()\nexten => _[0-9],1,NoOp()\n");
    only_error(&l, 3);
    // As are duplicate hints.
    let l = load("[c]\nexten => 1,hint,A\nexten => 1,hint,B\n");
    only_error(&l, 3);
}

#[test]
fn bad_priorities_are_reported() {
    bad_line("exten => 100,abc,NoOp()", "not a number");
    bad_line("exten => 100,0,NoOp()", "out of range");
    bad_line("exten => 100,-3,NoOp()", "out of range");
    bad_line("exten => 100,99999999999,NoOp()", "out of range");
    bad_line("exten => 100,1(lbl,NoOp()", "closing ')'");
    bad_line("exten => 100,n+x,NoOp()", "not a number");
    bad_line("exten => 100,hint+1,X", "hint");
}

#[test]
fn other_problems_are_warnings_or_notices() {
    let l = load(
        "[c]\nfoo => bar\nignorepat => 9\nexten => _.,1,NoOp()\n\
         exten => 1,1,Dial(PJSIP/1\nexten => 2,1,\nexten => _1[]2,1,NoOp()\n",
    );
    assert!(
        !l.diagnostics.iter().any(Diagnostic::is_error),
        "{:#?}",
        l.diagnostics
    );
    let at = |line: u32| -> Vec<(Severity, &str)> {
        l.diagnostics
            .iter()
            .filter(|d| d.location.as_ref().map(|l| l.line) == Some(line))
            .map(|d| (d.severity, d.message.as_str()))
            .collect()
    };
    assert!(at(2)[0].1.contains("unknown directive 'foo'"));
    assert_eq!(at(3)[0].0, Severity::Notice);
    assert!(at(4)[0].1.contains("strongly discouraged"));
    assert!(at(5)[0].1.contains("no closing parenthesis"));
    assert!(at(6)[0].1.contains("no application"));
    assert!(at(7)[0].1.contains("empty set"));
    let d = &l.dialplan;
    assert_eq!(
        d.find("c", "1")
            .and_then(|e| e.priority(1))
            .map(|p| p.args.as_str()),
        Some("PJSIP/1")
    );
    assert!(d.exists("c", "12"));
}

#[test]
fn reader_errors_are_passed_on_and_the_rest_loads() {
    let l = load("[c]\nthis line has no equals sign\nexten => 1,1,NoOp()\n");
    only_error(&l, 2);
    assert!(l.dialplan.exists("c", "1"));
}

#[test]
fn commas_inside_sets_belong_to_the_pattern() {
    let d = clean("[c]\nexten => _[1,2]X,1,NoOp()\n");
    assert!(d.exists("c", "15"));
    assert!(d.exists("c", ",5"));
    assert!(!d.exists("c", "35"));
}

#[test]
fn unknown_context_finds_nothing() {
    let d = clean("[c]\nexten => 1,1,NoOp()\n");
    assert!(!d.exists("nope", "1"));
    assert!(d.find("nope", "1").is_none());
}

// ---- properties ----

proptest! {
    #[test]
    fn find_never_panics(
        pattern in "\\PC{0,12}",
        exten in "\\PC{0,12}",
        raw in any::<Vec<u8>>().prop_map(|v| String::from_utf8_lossy(&v).into_owned()),
    ) {
        let (p1, p2) = (format!("_{pattern}"), format!("_{raw}"));
        for p in [pattern.as_str(), p1.as_str(), raw.as_str(), p2.as_str()] {
            if let Ok(parsed) = Pattern::parse(p) {
                let _ = parsed.matches(&exten);
                let _ = parsed.matches(&raw);
                let _ = parsed.cmp(&parsed);
            }
            let text = format!("[c]\nexten => {p},1,NoOp()\nexten => {p}/{exten},n,NoOp()\ninclude => c\n");
            if let Ok(l) = Dialplan::load_str(&MemFs::new(), Path::new(FILE), &text) {
                let _ = l.dialplan.find("c", &exten);
                let _ = l.dialplan.find("c", &raw);
                let _ = l.dialplan.exists("c", p);
                let _ = l.dialplan.lookup("c", &exten, CallerId::Number(&raw));
                let _ = l.dialplan.hint("c", &exten);
            }
        }
    }

    #[test]
    fn a_number_always_matches_its_own_literal_extension(exten in "[0-9*#a-zA-Z]{1,10}") {
        let d = clean(&format!("[c]\nexten => {exten},1,NoOp()\n"));
        prop_assert!(d.exists("c", &exten));
    }

    #[test]
    fn ordering_is_a_total_order(a in "_[0-9XZN.!\\[\\]-]{0,6}", b in "_[0-9XZN.!\\[\\]-]{0,6}") {
        if let (Ok(pa), Ok(pb)) = (Pattern::parse(&a), Pattern::parse(&b)) {
            prop_assert_eq!(pa.cmp(&pb), pb.cmp(&pa).reverse());
            prop_assert_eq!(pa.cmp(&pb) == std::cmp::Ordering::Equal, pa == pb);
        }
    }
}
