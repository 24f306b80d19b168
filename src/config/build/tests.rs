//! Builder tests: sections to objects, validation and reporting.

use std::path::Path;

use super::*;
use crate::config::Severity;
use crate::config::ini::{MemFs, read_str};
use crate::config::types::Kind;

fn built(text: &str) -> BuildResult {
    let fs = MemFs::new();
    match read_str(&fs, Path::new("/c/pjsip.conf"), text) {
        Ok(r) => {
            let mut b = build(&r.document);
            let mut d = r.diagnostics;
            d.append(&mut b.diagnostics);
            b.diagnostics = d;
            b
        }
        Err(e) => panic!("fatal: {e}"),
    }
}

fn ids(r: &BuildResult) -> Vec<(Kind, &str)> {
    r.objects.iter().map(|o| (o.kind, o.id.as_str())).collect()
}

fn errors(r: &BuildResult) -> Vec<String> {
    r.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect()
}

#[test]
fn same_name_different_types_are_separate_objects() {
    let r = built(
        "[6001]\ntype=endpoint\naors=6001\nauth=6001\n\
         [6001]\ntype=aor\nmax_contacts=1\n\
         [6001]\ntype=auth\nusername=6001\npassword=x\n",
    );
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    assert_eq!(
        ids(&r),
        vec![
            (Kind::Endpoint, "6001"),
            (Kind::Aor, "6001"),
            (Kind::Auth, "6001")
        ]
    );
}

#[test]
fn unknown_option_rejects_only_that_object_and_suggests_the_fix() {
    let r = built("[a]\ntype=endpoint\naor=a\n[b]\ntype=endpoint\n");
    let e = errors(&r);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0],
        "/c/pjsip.conf:3: error: endpoint 'a': option 'aor': unknown option for type 'endpoint' (did you mean 'aors'?)"
    );
    assert_eq!(ids(&r), vec![(Kind::Endpoint, "b")]);
}

#[test]
fn every_bad_line_of_an_object_is_reported() {
    let r = built("[a]\ntype=aor\nmax_contacts=lots\nremove_existing=maybe\n");
    let e = errors(&r);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains(":3:") && e[0].contains("max_contacts") && e[0].contains("'lots'"));
    assert!(e[1].contains(":4:") && e[1].contains("not a boolean"));
    assert!(r.objects.is_empty());
}

#[test]
fn missing_type_is_ignored_with_a_warning_except_global_and_system() {
    let r = built("[x]\nfoo=bar\n[global]\n[system]\n");
    assert_eq!(
        ids(&r),
        vec![(Kind::Global, "global"), (Kind::System, "system")]
    );
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("no 'type='"))
    );
}

#[test]
fn unknown_type_suggests_a_near_type() {
    let r = built("[x]\ntype=endpiont\n");
    assert!(errors(&r)[0].contains("did you mean 'endpoint'"));
}

#[test]
fn duplicate_objects_name_both_places() {
    let r = built("[a]\ntype=aor\n[a]\ntype=aor\nmax_contacts=2\n");
    let e = errors(&r);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("/c/pjsip.conf:3:") && e[0].contains("already defined at /c/pjsip.conf:1")
    );
    assert_eq!(ids(&r), vec![(Kind::Aor, "a")]);
}

#[test]
fn second_global_is_refused() {
    let r = built("[global]\ntype=global\n[g2]\ntype=global\n");
    assert!(errors(&r)[0].contains("more than one object of type 'global'"));
    assert_eq!(r.objects.len(), 1);
}

#[test]
fn dangling_references_are_warnings_naming_the_option() {
    let r = built("[e]\ntype=endpoint\naors=nosuch\nauth=gone\n");
    assert!(errors(&r).is_empty());
    let w: Vec<String> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(
        w.iter()
            .any(|m| m.contains("option 'aors': aor 'nosuch' does not exist")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.contains("option 'auth': auth 'gone' does not exist")),
        "{w:?}"
    );
    assert_eq!(r.objects.len(), 1);
}

#[test]
fn unsupported_options_are_reported_once_per_option() {
    let r = built("[a]\ntype=aor\nmailboxes=1@x\n[b]\ntype=aor\nmailboxes=2@x\n");
    let notices: Vec<&Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Notice)
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]
            .message
            .contains("accepted, not yet supported (also used by 1 other aor)")
    );
    assert_eq!(notices[0].option.as_deref(), Some("mailboxes"));
    assert_eq!(notices[0].location.as_ref().map(|l| l.line), Some(3));
}

#[test]
fn templates_feed_list_and_scalar_options() {
    let r = built(
        "[t](!)\ntype=endpoint\ncontext=from-tpl\ndisallow=all\nallow=ulaw\n\
         [e](t)\nallow=alaw\ncontext=mine\n",
    );
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    let Object::Endpoint(e) = &r.objects[0].object else {
        panic!("not an endpoint")
    };
    assert_eq!(e.context, "mine");
    let codecs: Vec<&str> = e.allow.0.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(codecs, vec!["ulaw", "alaw"]);
}

#[test]
fn wizard_objects_are_built_and_validated() {
    let r = built(
        "[trunk]\ntype=wizard\nremote_hosts=sip.example.com\nsends_auth=yes\n\
         outbound_auth/username=u\noutbound_auth/password=p\nendpoint/context=from-trunk\n",
    );
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    assert_eq!(
        ids(&r),
        vec![
            (Kind::Endpoint, "trunk"),
            (Kind::Aor, "trunk"),
            (Kind::Identify, "trunk-identify"),
            (Kind::Auth, "trunk-oauth"),
        ]
    );
    assert!(
        r.objects
            .iter()
            .all(|o| o.wizard.as_deref() == Some("trunk"))
    );
    let r = built("[trunk]\ntype=wizard\nremote_hosts=h\nendpoint/contxt=x\n");
    assert!(
        errors(&r)
            .iter()
            .any(|e| e.contains("did you mean 'context'")),
        "{:?}",
        errors(&r)
    );
}

#[test]
fn printed_objects_read_back_the_same() {
    let r = built(
        "[t](!)\ntype=endpoint\ncontext=x\nallow=ulaw,alaw\n[e](t)\naors=e\n\
         [e]\ntype=aor\ncontact=sip:a@b;transport=tcp\nmax_contacts=3\n\
         [i]\ntype=identify\nendpoint=e\nmatch=10.0.0.0/8,192.0.2.1:5062\n",
    );
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    let text = to_config_text(r.objects.iter().map(|o| (o.id.as_str(), &o.object)));
    let again = built(&text);
    assert!(errors(&again).is_empty(), "{text}\n{:?}", errors(&again));
    let a: Vec<(Kind, &str, &Object)> = r
        .objects
        .iter()
        .map(|o| (o.kind, o.id.as_str(), &o.object))
        .collect();
    let b: Vec<(Kind, &str, &Object)> = again
        .objects
        .iter()
        .map(|o| (o.kind, o.id.as_str(), &o.object))
        .collect();
    assert_eq!(a, b, "{text}");
}

#[test]
fn load_reports_fatal_read_errors() {
    let fs = MemFs::new();
    let r = load(&fs, Path::new("/nowhere/pjsip.conf"));
    assert!(matches!(r, Err(d) if d.message.contains("cannot read config file")));
}

fn read_doc(text: &str) -> crate::config::ini::Document {
    let fs = MemFs::new();
    match read_str(&fs, Path::new("/c/pjsip.conf"), text) {
        Ok(r) => r.document,
        Err(e) => panic!("fatal: {e}"),
    }
}

const BASE: &str = "[t](!)\ntype=endpoint\ncontext=c\n\
    [a](t)\naors=a\n[a]\ntype=aor\nmax_contacts=1\n[b](t)\naors=b\n[b]\ntype=aor\n";

#[test]
fn unchanged_sections_are_kept_not_rebuilt() {
    let first = build(&read_doc(BASE));
    assert_eq!(first.objects.len(), 4);
    assert_eq!(first.cache.len(), 4);
    // Endpoint b changes; a comment line shifts everything below it.
    let changed = BASE.replace(
        "[b](t)\naors=b",
        "; new comment\n[b](t)\naors=b\ncontext=other",
    );
    let second = build_with_cache(&read_doc(&changed), Some(&first.cache));
    assert!(errors(&second).is_empty(), "{:?}", errors(&second));
    assert_eq!(ids(&second), vec![(Kind::Endpoint, "b")]);
    assert_eq!(second.unchanged, 3);
    assert!(second.removed.is_empty(), "{:?}", second.removed);
    assert_eq!(second.object_count(), 4);
    assert_eq!(second.cache.len(), 4);
    // A template change reaches every section that inherits it.
    let tpl = changed.replace("context=c", "context=d");
    let third = build_with_cache(&read_doc(&tpl), Some(&second.cache));
    assert_eq!(
        ids(&third),
        vec![(Kind::Endpoint, "a"), (Kind::Endpoint, "b")]
    );
}

#[test]
fn vanished_sections_report_their_objects_as_removed() {
    let first = build(&read_doc(BASE));
    let without_b = BASE.replace("[b](t)\naors=b\n", "");
    let second = build_with_cache(&read_doc(&without_b), Some(&first.cache));
    let removed: Vec<(Kind, &str)> = second.removed.iter().map(|(k, id)| (*k, &**id)).collect();
    assert_eq!(removed, vec![(Kind::Endpoint, "b")]);
    assert_eq!(second.cache.len(), 3);
    // A wizard that stops making an object removes it.
    let w = "[t]\ntype=wizard\nremote_hosts=h.example.com\nsends_auth=yes\n\
             outbound_auth/username=u\noutbound_auth/password=p\n";
    let first = build(&read_doc(w));
    let second = build_with_cache(
        &read_doc(&w.replace("sends_auth=yes", "sends_auth=no")),
        Some(&first.cache),
    );
    let removed: Vec<(Kind, &str)> = second.removed.iter().map(|(k, id)| (*k, &**id)).collect();
    assert_eq!(removed, vec![(Kind::Auth, "t-oauth")]);
    assert_eq!(second.objects.len(), 3);
}

#[test]
fn cached_builds_still_report_dangling_references() {
    let text = "[e]\ntype=endpoint\naors=a\n[a]\ntype=aor\n";
    let first = build(&read_doc(text));
    assert!(
        first
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Warning)
    );
    // The aor goes away: the unchanged endpoint now points at nothing.
    let second = build_with_cache(
        &read_doc("[e]\ntype=endpoint\naors=a\n"),
        Some(&first.cache),
    );
    assert_eq!(second.unchanged, 1);
    assert!(
        second.diagnostics.iter().any(
            |d| d.severity == Severity::Warning && d.message.contains("aor 'a' does not exist")
        )
    );
    // A new endpoint pointing at an unchanged aor is fine.
    let third = build_with_cache(
        &read_doc(&format!("{text}[f]\ntype=endpoint\naors=a\n")),
        Some(&first.cache),
    );
    assert!(
        third
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Warning),
        "{:?}",
        third.diagnostics
    );
}

#[test]
fn a_new_duplicate_of_a_cached_section_is_reported() {
    let first = build(&read_doc("[a]\ntype=aor\n"));
    let later = build_with_cache(
        &read_doc("[a]\ntype=aor\n[a]\ntype=aor\nmax_contacts=2\n"),
        Some(&first.cache),
    );
    assert!(
        errors(&later)
            .iter()
            .any(|e| e.contains("duplicate object")),
        "{:?}",
        later.diagnostics
    );
    let earlier = build_with_cache(
        &read_doc("[a]\ntype=aor\nmax_contacts=2\n[a]\ntype=aor\n"),
        Some(&first.cache),
    );
    assert!(
        errors(&earlier)
            .iter()
            .any(|e| e.contains("duplicate object"))
    );
    let twin = build_with_cache(
        &read_doc("[a]\ntype=aor\n[a]\ntype=aor\n"),
        Some(&first.cache),
    );
    assert!(errors(&twin).iter().any(|e| e.contains("duplicate object")));
    let global = build(&read_doc("[global]\n"));
    let second_global = build_with_cache(
        &read_doc("[global]\n[g2]\ntype=global\n"),
        Some(&global.cache),
    );
    assert!(
        errors(&second_global)
            .iter()
            .any(|e| e.contains("more than one object of type 'global'"))
    );
}

#[test]
fn sections_with_errors_are_never_cached() {
    let first = build(&read_doc("[a]\ntype=aor\nmax_contacts=x\n"));
    assert!(first.cache.is_empty());
    let second = build_with_cache(
        &read_doc("[a]\ntype=aor\nmax_contacts=x\n"),
        Some(&first.cache),
    );
    assert_eq!(errors(&second).len(), 1);
}
