//! Reader tests: one syntax rule per test, on an in-memory file system.

use std::path::Path;

use super::*;
use crate::config::Severity;

fn read(text: &str) -> ReadResult {
    read_with(MemFs::new(), text)
}

fn read_with(fs: MemFs, text: &str) -> ReadResult {
    match read_str(&fs, Path::new("/etc/pjsipd/pjsip.conf"), text) {
        Ok(r) => r,
        Err(e) => panic!("fatal: {e}"),
    }
}

fn vars(s: &Section) -> Vec<(&str, &str)> {
    s.variables
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect()
}

#[test]
fn sections_and_variables_keep_order_and_lines() {
    let r = read("[a]\ntype = endpoint\nallow=ulaw\n\nallow=alaw\n[b]\nx=1\n");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let d = &r.document;
    assert_eq!(d.sections.len(), 2);
    assert_eq!(
        vars(&d.sections[0]),
        vec![("type", "endpoint"), ("allow", "ulaw"), ("allow", "alaw")]
    );
    assert_eq!(d.sections[0].location.line, 1);
    assert_eq!(d.sections[0].variables[2].location.line, 5);
    assert_eq!(
        d.sections[1].variables[0].location.to_string(),
        "/etc/pjsipd/pjsip.conf:7"
    );
}

#[test]
fn arrow_is_the_same_as_equals() {
    let r = read("[a]\nexten => 1,1,NoOp\n");
    assert_eq!(vars(&r.document.sections[0]), vec![("exten", "1,1,NoOp")]);
}

#[test]
fn plus_equals_appends_text_to_the_last_variable() {
    let r = read("[a]\nallow=ulaw\nallow+=,alaw   \nnew+=x\n");
    assert_eq!(
        vars(&r.document.sections[0]),
        vec![("allow", "ulaw,alaw"), ("new", "x")]
    );
}

#[test]
fn comments_are_removed_and_escaped_semicolons_kept() {
    let r = read("[a] ; section comment\nx=1;comment\ny=a\\;b\n; whole line\n");
    assert_eq!(
        vars(&r.document.sections[0]),
        vec![("x", "1"), ("y", "a;b")]
    );
}

#[test]
fn block_comments_span_lines_and_nest() {
    let r = read("[a]\nx=1 ;-- start\ny=2\n;-- nested --;\nz=3 --; w=4\nv=5\n");
    assert_eq!(
        vars(&r.document.sections[0]),
        vec![("x", "1"), ("w", "4"), ("v", "5")]
    );
}

#[test]
fn unterminated_block_comment_is_a_warning() {
    let r = read("[a]\n;-- never closed\nx=1\n");
    assert!(r.diagnostics.iter().any(|d| d.severity == Severity::Warning
        && d.message.contains("never closed")
        && d.location.as_ref().is_some_and(|l| l.line == 2)));
}

#[test]
fn templates_are_marked_and_inherited_first() {
    let r = read("[tpl](!)\ncontext=a\nallow=ulaw\n[ep](tpl)\ncontext=b\n");
    let d = &r.document;
    assert!(d.sections[0].is_template);
    let ep = &d.sections[1];
    assert_eq!(ep.bases, vec!["tpl".to_string()]);
    assert_eq!(
        vars(ep),
        vec![("context", "a"), ("allow", "ulaw"), ("context", "b")]
    );
    // Inherited lines keep the template's line numbers.
    assert_eq!(ep.variables[0].location.line, 2);
    assert_eq!(d.objects().count(), 1);
}

#[test]
fn multiple_bases_apply_in_order_and_templates_can_inherit() {
    let r = read("[a](!)\nx=1\n[b](!,a)\ny=2\n[c]\nz=3\n[d](b,c)\nw=4\n");
    let d = r.document.sections.iter().find(|s| s.name == "d");
    assert_eq!(
        d.map(vars),
        Some(vec![("x", "1"), ("y", "2"), ("z", "3"), ("w", "4")])
    );
}

#[test]
fn unknown_base_is_an_error_for_that_section_only() {
    let r = read("[ok]\nx=1\n[bad](nosuch)\ny=2\n");
    assert!(r.diagnostics.iter().any(|d| {
        d.is_error()
            && d.message
                .contains("Inheritance requested, but category 'nosuch' does not exist")
    }));
    let names: Vec<&str> = r.document.objects().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["ok"]);
}

#[test]
fn unknown_base_suggests_a_near_name() {
    let r = read("[endpoint-tpl](!)\nx=1\n[e](endpoint-tlp)\n");
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.contains("did you mean 'endpoint-tpl'"))
    );
}

#[test]
fn plus_appends_to_an_earlier_section() {
    let r = read("[a]\nx=1\n[b]\ny=1\n[a](+)\nz=2\n");
    assert_eq!(vars(&r.document.sections[0]), vec![("x", "1"), ("z", "2")]);
    let r = read("[a](+)\nz=2\n");
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.is_error() && d.message.contains("(+)"))
    );
    assert_eq!(r.document.objects().count(), 0);
}

#[test]
fn duplicate_section_names_are_kept_as_separate_sections() {
    let r = read("[6001]\ntype=endpoint\n[6001]\ntype=aor\n");
    assert_eq!(r.document.sections.len(), 2);
}

#[test]
fn variable_before_any_section_is_an_error() {
    let r = read("x=1\n[a]\ny=2\n");
    assert!(r.diagnostics.iter().any(|d| d.is_error()
        && d.message.contains("No category context")
        && d.location.as_ref().is_some_and(|l| l.line == 1)));
    assert_eq!(r.document.objects().count(), 1);
}

#[test]
fn line_without_equals_rejects_its_section() {
    let r = read("[a]\nallow ulaw\n[b]\nx=1\n");
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.is_error() && d.message.contains("no '='"))
    );
    let names: Vec<&str> = r.document.objects().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["b"]);
}

#[test]
fn missing_bracket_and_empty_name_are_errors() {
    let r = read("[a\nx=1\n[]\n");
    assert_eq!(r.diagnostics.iter().filter(|d| d.is_error()).count(), 3);
}

#[test]
fn crlf_line_endings_are_accepted() {
    let r = read("[a]\r\nx=1\r\n");
    assert_eq!(vars(&r.document.sections[0]), vec![("x", "1")]);
}

#[test]
fn include_reads_relative_to_the_config_dir_in_place() {
    let fs = MemFs::new().with("/etc/pjsipd/more.conf", "y=2\n[b]\nz=3\n");
    let r = read_with(fs, "[a]\nx=1\n#include \"more.conf\"\nw=4\n");
    let d = &r.document;
    assert_eq!(vars(&d.sections[0]), vec![("x", "1"), ("y", "2")]);
    assert_eq!(vars(&d.sections[1]), vec![("z", "3"), ("w", "4")]);
    assert_eq!(
        d.sections[1].variables[0].location.to_string(),
        "/etc/pjsipd/more.conf:3"
    );
    assert_eq!(d.files.len(), 2);
}

#[test]
fn include_accepts_angle_brackets_bare_names_and_globs() {
    let fs = MemFs::new()
        .with("/etc/pjsipd/conf.d/b.conf", "[b]\n")
        .with("/etc/pjsipd/conf.d/a.conf", "[a]\n")
        .with("/etc/pjsipd/x.conf", "[x]\n");
    let r = read_with(fs, "#include <x.conf>\n#include conf.d/*.conf\n");
    let names: Vec<&str> = r
        .document
        .sections
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, vec!["x", "a", "b"]);
}

#[test]
fn missing_include_is_fatal_but_tryinclude_is_not() {
    let fs = MemFs::new();
    let err = read_str(&fs, Path::new("/c/pjsip.conf"), "#include nothere.conf\n");
    assert!(
        matches!(err, Err(e) if e.message.contains("was listed as a #include but it does not exist"))
    );
    let ok = read_str(
        &fs,
        Path::new("/c/pjsip.conf"),
        "#tryinclude nothere.conf\n[a]\n",
    );
    assert!(matches!(ok, Ok(r) if r.document.sections.len() == 1));
}

#[test]
fn include_loops_are_detected() {
    let fs = MemFs::new()
        .with("/c/a.conf", "#include b.conf\n")
        .with("/c/b.conf", "#include a.conf\n");
    let err = read_file(&fs, Path::new("/c/a.conf"));
    assert!(
        matches!(err, Err(e) if e.message.contains("#include loop: /c/a.conf -> /c/b.conf -> /c/a.conf"))
    );
}

#[test]
fn exec_is_refused_with_a_warning() {
    let r = read("#exec /bin/true\n[a]\n");
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("#exec"))
    );
}

#[test]
fn binary_garbage_gives_line_errors_not_panics() {
    let mut bytes = b"[a]\nx=1\n".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, b'\n', 0x00, b'=', b'\n']);
    let fs = MemFs::new().with("/c/p.conf", bytes);
    let r = read_file(&fs, Path::new("/c/p.conf"));
    let Ok(r) = r else { panic!("fatal") };
    assert!(r.diagnostics.iter().any(|d| d.message.contains("UTF-8")));
    assert!(r.diagnostics.iter().any(|d| d.message.contains("NUL")));
    assert!(r.document.sections[0].invalid);
}

#[test]
fn overlong_lines_are_refused() {
    let text = format!("[a]\nx={}\n[b]\ny=1\n", "v".repeat(MAX_LINE_LEN + 1));
    let r = read(&text);
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.contains("bytes long"))
    );
    let names: Vec<&str> = r.document.objects().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["b"]);
}

#[test]
fn did_you_mean_finds_near_misses_only() {
    let c = ["aors", "auth", "context", "transport"];
    assert_eq!(did_you_mean("aor", c.iter().copied()), Some("aors"));
    assert_eq!(did_you_mean("contxt", c.iter().copied()), Some("context"));
    assert_eq!(did_you_mean("zzzzzz", c.iter().copied()), None);
}
