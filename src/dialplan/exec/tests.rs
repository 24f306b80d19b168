//! Interpreter tests: substitution, expressions, application flow over real
//! `extensions.conf` text, functions through a fake channel, Dial and PJSIP dial strings,
//! the step bound and `dialplan show`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::dial::ResolvedTarget;
use super::show::dialplan_show;
use super::*;
use crate::config::ini::MemFs;
use crate::dialplan::Dialplan;

const FILE: &str = "/etc/pjsipd/extensions.conf";

fn dialplan(text: &str) -> Dialplan {
    match Dialplan::load_str(&MemFs::new(), Path::new(FILE), text) {
        Ok(l) => {
            assert!(
                l.diagnostics.iter().all(|d| !d.is_error()),
                "{:#?}",
                l.diagnostics
            );
            l.dialplan
        }
        Err(e) => panic!("fatal: {e}"),
    }
}

/// A channel driver stand-in: PJSIP_HEADER reads from `headers`, writes are recorded.
#[derive(Default)]
struct Fake {
    headers: BTreeMap<String, String>,
    written: Vec<(String, String, String)>,
}

impl ChannelData for Fake {
    fn name(&self) -> &str {
        "PJSIP/6001-00000001"
    }
    fn unique_id(&self) -> &str {
        "1700000000.1"
    }
    fn read_function(&mut self, name: &str, args: &str) -> Option<Result<String, String>> {
        match name {
            "PJSIP_HEADER" => {
                let mut parts = args.splitn(3, ',');
                match (parts.next(), parts.next()) {
                    (Some("read"), Some(h)) => {
                        Some(Ok(self.headers.get(h).cloned().unwrap_or_default()))
                    }
                    _ => Some(Err(format!("bad action in '{args}'"))),
                }
            }
            "PJSIP_DIAL_CONTACTS" => Some(Ok(format!(
                "PJSIP/{args}/sip:{args}@10.0.0.1:5060&PJSIP/{args}/sip:{args}@10.0.0.2:5060"
            ))),
            _ => None,
        }
    }
    fn write_function(
        &mut self,
        name: &str,
        args: &str,
        value: &str,
    ) -> Option<Result<(), String>> {
        (name == "PJSIP_HEADER").then(|| {
            self.written
                .push((name.to_string(), args.to_string(), value.to_string()));
            Ok(())
        })
    }
}

fn caller(number: &str, name: &str) -> CallerIdentity {
    CallerIdentity {
        number: number.into(),
        name: name.into(),
        ..CallerIdentity::default()
    }
}

const PLAN: &str = "\
[globals]
TRUNK=mytrunk
GREETING=hello

[internal]
exten => 600,1,NoOp(Call to ${EXTEN})
 same => n,Set(COUNT=0)
 same => n(top),Set(COUNT=$[${COUNT} + 1])
 same => n,GotoIf($[${COUNT} < 3]?top)
 same => n,GotoIf($[\"${CALLERID(num)}\" = \"6001\"]?known,1:unknown,1)

exten => known,1,Set(__ACCOUNT=acme)
 same => n,Set(_ONCE=1)
 same => n,Answer()
 same => n,Dial(PJSIP/${EXTEN:0:1}@${TRUNK}&PJSIP/6002,30,rtg)
 same => n,Hangup(USER_BUSY)

exten => unknown,1,Busy(5)

exten => loop,1,NoOp()
 same => n,Goto(1)

exten => fall,1,Set(DIALSTATUS=BUSY)

exten => bogus,1,FooBar(1)

exten => i,1,Playback(invalid&goodbye,noanswer)
 same => n,Hangup()

exten => jump,1,Goto(other,s,start)

[other]
exten => s,1,NoOp(skipped)
 same => n(start),UserEvent(Jumped,Where: other,Count: ${COUNT})
 same => n,Wait(1.5)
 same => n,Goto(internal,unknown,1)
";

fn exec_at(d: &Dialplan, exten: &str, number: &str) -> Execution {
    Execution::start(d, "internal", exten, caller(number, "Alice"))
}

// ---- substitution ----

#[test]
fn variables_globals_builtins_and_unknowns() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    e.set_var("FOO", "value");
    e.set_var("GREETING", "channel wins");
    let s = |e: &Execution, f: &mut Fake, t: &str| e.substitute(&d, f, t);
    assert_eq!(s(&e, &mut f, "${FOO}-${TRUNK}"), "value-mytrunk");
    assert_eq!(s(&e, &mut f, "${GREETING}"), "channel wins");
    assert_eq!(s(&e, &mut f, "[${NOPE}]"), "[]");
    assert_eq!(s(&e, &mut f, "${foo}"), "", "names are case-sensitive");
    assert_eq!(
        s(
            &e,
            &mut f,
            "${EXTEN}@${CONTEXT}:${PRIORITY} ${CHANNEL} ${UNIQUEID}"
        ),
        "600@internal:1 PJSIP/6001-00000001 1700000000.1"
    );
    assert_eq!(s(&e, &mut f, "${HANGUPCAUSE}"), "0");
    e.set_hangup_cause(Cause::USER_BUSY);
    assert_eq!(s(&e, &mut f, "${HANGUPCAUSE}"), "17");
    // Built-ins are not hidden by channel variables.
    e.set_var("EXTEN", "x");
    assert_eq!(s(&e, &mut f, "${EXTEN}"), "600");
    assert_eq!(
        s(&e, &mut f, "no vars, $ alone, {braces}"),
        "no vars, $ alone, {braces}"
    );
}

#[test]
fn offsets_lengths_and_nesting() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    e.set_var("NUM", "0015551234");
    e.set_var("WHICH", "NUM");
    e.set_var("N", "2");
    let cases = [
        ("${NUM:1}", "015551234"),
        ("${NUM:2:3}", "155"),
        ("${NUM:-4}", "1234"),
        ("${NUM:-4:2}", "12"),
        ("${NUM:0:-4}", "001555"),
        ("${NUM:2:-4}", "1555"),
        ("${NUM:20}", ""),
        ("${NUM:-20:3}", "001"),
        ("${NUM::3}", "0015551234"),
        ("${${WHICH}}", "0015551234"),
        ("${${WHICH}:${N}:3}", "155"),
        ("${EXTEN:1}", "00"),
        ("${LEN(${NUM})}", "10"),
        ("${LEN(${NUM:-3})}", "3"),
    ];
    for (text, want) in cases {
        assert_eq!(e.substitute(&d, &mut f, text), want, "{text}");
    }
}

#[test]
fn missing_brace_takes_the_rest() {
    let d = dialplan(PLAN);
    let e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    assert_eq!(e.substitute(&d, &mut f, "a${EXTEN"), "a600");
}

#[test]
fn functions_builtin_driver_and_unknown() {
    let d = dialplan(PLAN);
    let e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    f.headers.insert("X-Account".into(), "42".into());
    let s = |f: &mut Fake, t: &str| e.substitute(&d, f, t);
    assert_eq!(s(&mut f, "${CALLERID(num)}"), "6001");
    assert_eq!(s(&mut f, "${CALLERID(name)}"), "Alice");
    assert_eq!(s(&mut f, "${CALLERID(all)}"), "\"Alice\" <6001>");
    assert_eq!(s(&mut f, "${callerid(number)}"), "6001");
    assert_eq!(s(&mut f, "${IF($[1 = 1]?yes:no)}"), "yes");
    assert_eq!(s(&mut f, "${IF(0?yes:no)}"), "no");
    assert_eq!(s(&mut f, "${IF(?yes:no)}"), "no");
    assert_eq!(s(&mut f, "${IF(abc?yes)}"), "yes");
    assert_eq!(s(&mut f, "${ISNULL(${NOPE})}${EXISTS(${EXTEN})}"), "11");
    assert_eq!(s(&mut f, "${PJSIP_HEADER(read,X-Account)}"), "42");
    assert_eq!(s(&mut f, "${PJSIP_HEADER(bogus)}"), "");
    assert_eq!(s(&mut f, "[${NO_SUCH_FUNC(1)}]"), "[]");
    assert_eq!(s(&mut f, "${DIALPLAN_EXISTS(internal,known)}"), "1");
    assert_eq!(s(&mut f, "${DIALPLAN_EXISTS(internal,600,top)}"), "1");
    assert_eq!(s(&mut f, "${DIALPLAN_EXISTS(internal,nope)}"), "0");
    assert_eq!(s(&mut f, "${DIALPLAN_EXISTS(other)}"), "1");
    assert_eq!(
        s(&mut f, "${PJSIP_DIAL_CONTACTS(6001)}"),
        "PJSIP/6001/sip:6001@10.0.0.1:5060&PJSIP/6001/sip:6001@10.0.0.2:5060"
    );
}

#[test]
fn substitution_is_bounded() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    e.set_var("BIG", &"x".repeat(5000));
    let out = e.substitute(&d, &mut f, "${BIG}${BIG}${BIG}");
    assert!(out.len() <= vars::MAX_SUBSTITUTED, "{}", out.len());
    let deep = format!("{}X{}", "${".repeat(100), "}".repeat(100));
    let _ = e.substitute(&d, &mut f, &deep);
    let brackets = format!("{}1{}", "$[(".repeat(200), ")]".repeat(200));
    let _ = e.substitute(&d, &mut f, &brackets);
}

// ---- expressions ----

fn check_expressions(cases: &[(&str, &str)]) {
    for (text, want) in cases {
        assert_eq!(expr::evaluate(text), *want, "$[{text}]");
    }
}

#[test]
fn arithmetic_and_comparisons() {
    let cases = [
        ("1 + 2", "3"),
        ("1+2*3", "7"),
        ("(1+2)*3", "9"),
        ("10 % 3", "1"),
        ("3 / 2", "1.5"),
        ("4/2", "2"),
        ("-5 + 2", "-3"),
        ("- -5", "5"),
        ("2 - 3 - 4", "-5"),
        ("3 < 10", "1"),
        ("3 > 10", "0"),
        ("10 >= 10", "1"),
        ("abc < abd", "1"),
        ("\"10\" < \"9\"", "1"),
        ("2 = 2.0", "1"),
        ("foo = foo", "1"),
        ("foo != bar", "1"),
        ("foo == bar", "0"),
        ("\"a b\" = \"a b\"", "1"),
        ("\"a\" = a", "0"),
        ("\"x\"", "\"x\""),
        ("1 / 0", "2147483647"),
        ("5 % 0", "0"),
        ("a + 1", "0"),
        ("", ""),
        ("1 +", ""),
        ("(1", ""),
    ];
    check_expressions(&cases);
}

#[test]
fn logic_and_conditional() {
    let cases = [
        ("0 | 5", "5"),
        ("3 | 5", "3"),
        ("\"\" | x", "\"\""),
        ("\"\" ? yes :: no", "no"),
        ("2 & 3", "2"),
        ("0 & 3", "0"),
        ("!0", "1"),
        ("!abc", "0"),
        ("!\"\"", "0"),
        ("1 = 1 & 2 = 2", "1"),
        ("1 = 2 | 2 = 2", "1"),
        ("1 ? yes :: no", "yes"),
        ("0 ? yes :: no", "no"),
        ("abc ? yes :: no", "yes"),
        ("3 > 2 ? 1 + 1 :: 0", "2"),
    ];
    check_expressions(&cases);
}

#[test]
fn regex_matching() {
    let cases = [
        ("abcde : abc", "3"),
        ("abcde : bcd", "0"),
        ("abcde =~ bcd", "3"),
        ("\"12345\" : \"[0-9]+\"", "5"),
        ("\"0049301234\" : \"00(49)\"", "49"),
        ("\"0049301234\" : \"00(4[0-9]|3[0-9])(.*)\"", "49"),
        ("\"+15551234\" : \"\\+1(.*)\"", "5551234"),
        ("abc : \"(x)\"", ""),
        ("aaa : \"a{2}\"", "2"),
        ("abc : \"a.c$\"", "3"),
        ("abcd : \"a.c$\"", "0"),
        ("\"a1\" : \"[[:alpha:]][[:digit:]]\"", "2"),
        ("xyz =~ \"^y\"", "0"),
        ("xyz =~ \"(y|z)+\"", "z"),
    ];
    check_expressions(&cases);
    // A bad pattern is an error, not a panic; a pathological one is cut off.
    assert_eq!(expr::evaluate("a : \"(\""), "0");
    let s = format!("\"{}b\" : \"(a*)*c\"", "a".repeat(40));
    assert_eq!(expr::evaluate(&s), "");
}

#[test]
fn expressions_inside_substitution() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    e.set_var("A", "4");
    assert_eq!(e.substitute(&d, &mut f, "$[${A} * 2]"), "8");
    assert_eq!(e.substitute(&d, &mut f, "$[$[1+1] * $[${A}]]"), "8");
    assert_eq!(e.substitute(&d, &mut f, "n=$[${EXTEN} + 1]."), "n=601.");
}

// ---- flow ----

#[test]
fn goto_loop_label_and_caller_branch() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "6001");
    let mut f = Fake::default();
    assert_eq!(e.run(&d, &mut f), Action::Answer);
    assert_eq!(e.var("COUNT"), Some("3"));
    assert_eq!((e.exten(), e.priority()), ("known", 4));
    let Action::Dial(dial) = e.run(&d, &mut f) else {
        panic!("expected Dial");
    };
    assert_eq!(
        dial.targets,
        vec![
            DialTarget {
                tech: "PJSIP".into(),
                resource: "k@mytrunk".into()
            },
            DialTarget {
                tech: "PJSIP".into(),
                resource: "6002".into()
            },
        ]
    );
    assert_eq!(dial.timeout, Some(Duration::from_secs(30)));
    assert!(dial.options.ring_indication && dial.options.continue_on_hangup);
    assert!(dial.options.callee_transfer && !dial.options.caller_transfer);
    assert_eq!(
        e.inheritable_vars(),
        vec![
            ("__ACCOUNT".to_string(), "acme".to_string()),
            ("ONCE".to_string(), "1".to_string())
        ]
    );
    assert_eq!(e.var("ACCOUNT"), Some("acme"));
    e.set_dial_status(DialStatus::Busy);
    assert_eq!(
        e.run(&d, &mut f),
        Action::Hangup {
            cause: Some(Cause::USER_BUSY)
        }
    );
    assert!(e.is_finished());
    assert_eq!(
        e.run(&d, &mut f),
        Action::End {
            reason: EndReason::HungUp
        }
    );
}

#[test]
fn other_caller_takes_the_false_branch() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "600", "7000");
    let mut f = Fake::default();
    assert_eq!(
        e.run(&d, &mut f),
        Action::Busy {
            timeout: Some(Duration::from_secs(5))
        }
    );
}

#[test]
fn goto_other_context_by_label_and_external_actions() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "jump", "6001");
    let mut f = Fake::default();
    assert_eq!(
        e.run(&d, &mut f),
        Action::UserEvent {
            name: "Jumped".into(),
            fields: vec![
                ("Where".into(), "other".into()),
                ("Count".into(), "".into())
            ]
        }
    );
    assert_eq!(e.context(), "other");
    assert_eq!(e.run(&d, &mut f), Action::Wait(Duration::from_millis(1500)));
    assert!(matches!(e.run(&d, &mut f), Action::Busy { .. }));
}

#[test]
fn the_h_extension_runs_after_hangup_with_the_channels_variables() {
    let d = dialplan(
        "[in]\n\
         exten => 600,1,Set(WHO=alice)\n\
          same => n,Set(DIALSTATUS=NOANSWER)\n\
          same => n,Hangup(17)\n\
         exten => h,1,UserEvent(Ended,Who: ${WHO},Cause: ${HANGUPCAUSE},Status: ${DIALSTATUS},Exten: ${EXTEN})\n\
          same => n,Answer()\n\
          same => n,UserEvent(Never)\n\
         [none]\n\
         exten => 600,1,Hangup()\n",
    );
    let mut f = Fake::default();
    let mut e = Execution::start(&d, "in", "600", caller("6001", "Alice"));
    assert!(matches!(e.run(&d, &mut f), Action::Hangup { .. }));
    e.set_hangup_cause(Cause::USER_BUSY);
    assert!(e.start_hangup_extension(&d));
    assert_eq!(
        e.run(&d, &mut f),
        Action::UserEvent {
            name: "Ended".into(),
            fields: vec![
                ("Who".into(), "alice".into()),
                ("Cause".into(), "17".into()),
                ("Status".into(), "NOANSWER".into()),
                ("Exten".into(), "h".into()),
            ]
        }
    );
    // The driver stops at the first action that needs the channel; the interpreter
    // itself just returns it.
    assert_eq!(e.run(&d, &mut f), Action::Answer);
    assert!(matches!(e.run(&d, &mut f), Action::UserEvent { .. }));
    assert_eq!(
        e.run(&d, &mut f),
        Action::End {
            reason: EndReason::HangupExtensionDone
        },
        "no auto fallthrough, no i in h"
    );
    assert!(!e.start_hangup_extension(&d), "h runs once");
    let mut none = Execution::start(&d, "none", "600", caller("6001", "Alice"));
    assert!(matches!(none.run(&d, &mut f), Action::Hangup { .. }));
    assert!(!none.start_hangup_extension(&d), "no h in the context");
}

#[test]
fn goto_loop_is_bounded() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "loop", "6001");
    let mut f = Fake::default();
    assert_eq!(
        e.run(&d, &mut f),
        Action::End {
            reason: EndReason::StepLimit
        }
    );
    assert!(e.is_finished());
}

#[test]
fn fallthrough_indicates_by_dialstatus() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "fall", "6001");
    let mut f = Fake::default();
    assert_eq!(
        e.run(&d, &mut f),
        Action::Busy {
            timeout: Some(FALLTHROUGH_INDICATION)
        }
    );
    assert_eq!(
        e.run(&d, &mut f),
        Action::End {
            reason: EndReason::Fallthrough {
                status: "BUSY".into()
            }
        }
    );
    let d2 = dialplan("[c]\nexten => 1,1,NoOp()\n");
    let mut e2 = Execution::start(&d2, "c", "1", CallerIdentity::default());
    assert_eq!(
        e2.run(&d2, &mut f),
        Action::End {
            reason: EndReason::Fallthrough {
                status: "UNKNOWN".into()
            }
        }
    );
}

#[test]
fn unknown_application_ends_with_its_location() {
    let d = dialplan(PLAN);
    let mut e = exec_at(&d, "bogus", "6001");
    let mut f = Fake::default();
    let Action::End {
        reason: EndReason::NoApplication { app, location },
    } = e.run(&d, &mut f)
    else {
        panic!("expected NoApplication");
    };
    assert_eq!(app, "FooBar");
    assert_eq!(location.to_string(), format!("{FILE}:25"));
}

#[test]
fn invalid_goto_target_uses_i_and_bad_label_fails() {
    let d = dialplan(PLAN);
    let mut f = Fake::default();
    let mut e = exec_at(&d, "600", "6001");
    assert!(matches!(e.goto(&d, "nowhere,1", "Goto"), Step::Jumped));
    assert_eq!(
        e.run(&d, &mut f),
        Action::Playback {
            files: vec!["invalid".into(), "goodbye".into()],
            options: "noanswer".into()
        }
    );
    assert_eq!(e.var("INVALID_EXTEN"), Some("nowhere"));
    let mut e = exec_at(&d, "600", "6001");
    let Step::End(EndReason::AppFailed { message, .. }) = e.goto(&d, "600,nolabel", "Goto") else {
        panic!("expected failure");
    };
    assert_eq!(
        message,
        "Priority 'nolabel' must be a number > 0, or valid label"
    );
    // No 'i' in [other]: the call ends.
    let mut e = Execution::start(&d, "other", "s", CallerIdentity::default());
    assert!(matches!(e.goto(&d, "zzz,1", "Goto"), Step::Jumped));
    assert_eq!(
        e.run(&d, &mut f),
        Action::End {
            reason: EndReason::InvalidExtension {
                context: "other".into(),
                exten: "zzz".into()
            }
        }
    );
}

#[test]
fn relative_goto_and_start_fallbacks() {
    let d = dialplan(
        "[a]\nexten => s,1,Goto(+2)\n same => n,Hangup(1)\n same => n,Hangup(2)\n\
         [default]\nexten => s,1,Hangup(3)\n",
    );
    let mut f = Fake::default();
    let mut e = Execution::start(&d, "a", "nothere", CallerIdentity::default());
    assert_eq!((e.context(), e.exten()), ("a", "s"));
    assert_eq!(
        e.run(&d, &mut f),
        Action::Hangup {
            cause: Some(Cause(2))
        }
    );
    let e = Execution::start(&d, "nocontext", "x", CallerIdentity::default());
    assert_eq!((e.context(), e.exten()), ("default", "s"));
}

#[test]
fn set_functions_execif_and_callerid() {
    let d = dialplan(
        "[c]\nexten => 1,1,Set(PJSIP_HEADER(add,X-Foo)=bar ${EXTEN})\n\
         same => n,Set(CALLERID(all)=\"Bob Smith\" <5551234>)\n\
         same => n,Set(NOSUCH(x)=1)\n\
         same => n,ExecIf($[${CALLERID(num)} = 5551234]?Set(HIT=yes):Set(HIT=no))\n\
         same => n,ExecIf(0?Answer())\n\
         same => n,Set(CALLERID(num)=6000)\n\
         same => n,ExecIf(1?Hangup(${CALLERID(name)}))\n",
    );
    let mut f = Fake::default();
    let mut e = Execution::start(&d, "c", "1", CallerIdentity::default());
    // "Bob Smith" is not a cause: Hangup without one, as Asterisk.
    assert_eq!(e.run(&d, &mut f), Action::Hangup { cause: None });
    assert_eq!(
        f.written,
        vec![(
            "PJSIP_HEADER".to_string(),
            "add,X-Foo".to_string(),
            "bar 1".to_string()
        )]
    );
    assert_eq!(e.var("HIT"), Some("yes"));
    assert_eq!(e.caller(), &caller("6000", "Bob Smith"));
}

#[test]
fn callerid_pres_reads_and_sets_the_presentation_by_name_or_number() {
    use crate::config::types::CallerIdPrivacy;
    let d = dialplan(
        "[c]\nexten => 1,1,Set(BEFORE=${CALLERID(pres)})\n\
         same => n,Set(CALLERID(pres)=prohib)\n\
         same => n,Set(AFTER=${CALLERID(num-pres)})\n\
         same => n,Set(CALLERID(name-pres)=bogus)\n\
         same => n,Set(KEPT=${CALLERID(pres)})\n\
         same => n,Set(CALLERID(pres)=33)\n\
         same => n,Hangup()\n",
    );
    let mut f = Fake::default();
    let mut e = Execution::start(&d, "c", "1", caller("6001", "Alice"));
    assert_eq!(e.run(&d, &mut f), Action::Hangup { cause: None });
    assert_eq!(e.var("BEFORE"), Some("allowed_not_screened"));
    assert_eq!(e.var("AFTER"), Some("prohib"));
    // An unknown value leaves it unchanged (Asterisk warns the same way).
    assert_eq!(e.var("KEPT"), Some("prohib"));
    assert_eq!(e.caller().presentation, CallerIdPrivacy::ProhibPassedScreen);
    assert_eq!(
        (e.caller().number.as_str(), e.caller().name.as_str()),
        ("6001", "Alice")
    );
}

#[test]
fn application_names_are_case_insensitive_and_args_split_like_asterisk() {
    let d = dialplan("[c]\nexten => 1,1,noop(x)\n same => n,PLAYBACK(\"a,b\"&c)\n");
    let mut f = Fake::default();
    let mut e = Execution::start(&d, "c", "1", CallerIdentity::default());
    assert_eq!(
        e.run(&d, &mut f),
        Action::Playback {
            files: vec!["a,b".into(), "c".into()],
            options: String::new()
        }
    );
    assert_eq!(
        apps::split_args("a,b(c,d),\"e,f\",g\\,h", 10),
        ["a", "b(c,d)", "e,f", "g,h"]
    );
    assert_eq!(apps::split_args("1,hello, world", 2), ["1", "hello, world"]);
}

#[test]
fn dial_failing_arguments_set_invalidargs() {
    let d = dialplan("[c]\nexten => 1,1,Dial(${EMPTY})\nexten => 2,1,Dial(6001,20)\n");
    let mut f = Fake::default();
    for (exten, message) in [
        ("1", "Dial requires an argument (technology/resource)"),
        (
            "2",
            "Dial argument takes format (technology/[device:]number1)",
        ),
    ] {
        let mut e = Execution::start(&d, "c", exten, CallerIdentity::default());
        assert_eq!(
            e.run(&d, &mut f),
            Action::End {
                reason: EndReason::AppFailed {
                    app: "Dial".into(),
                    message: message.into()
                }
            }
        );
        assert_eq!(e.var("DIALSTATUS"), Some("INVALIDARGS"));
    }
}

// ---- Dial arguments and PJSIP dial strings ----

#[test]
fn dial_arguments() {
    let d = match DialArgs::parse(
        "PJSIP/6001&PJSIP/6002,,b(handler^addheader^1(x,y))U(sub^a)mTk,http://x",
    ) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(d.targets.len(), 2);
    assert!(d.targets.iter().all(DialTarget::is_pjsip));
    assert_eq!(d.timeout, None);
    assert_eq!(
        d.options.predial_callee.as_deref(),
        Some("handler^addheader^1(x,y)")
    );
    assert_eq!(d.options.answer_subroutine.as_deref(), Some("sub^a"));
    assert!(d.options.caller_transfer);
    assert_eq!(d.options.other, vec![('m', None), ('k', None)]);
    assert_eq!(d.url.as_deref(), Some("http://x"));
    let d = DialArgs::parse("PJSIP/a,abc").ok();
    assert_eq!(d.map(|d| d.timeout), Some(None));
    let d = DialArgs::parse("PJSIP/a,2.5").ok();
    assert_eq!(
        d.map(|d| d.timeout),
        Some(Some(Duration::from_millis(2500)))
    );
    assert_eq!(DialArgs::parse(""), Err(DialError::Empty));
    assert_eq!(DialArgs::parse(",30"), Err(DialError::Empty));
    assert_eq!(DialArgs::parse("PJSIP/a&"), Err(DialError::BadTarget));
}

#[test]
fn pjsip_dial_strings() {
    let t = |s: &str| match PjsipTarget::parse(s) {
        Ok(t) => t,
        Err(e) => panic!("{s}: {e}"),
    };
    assert_eq!(
        t("6001"),
        PjsipTarget {
            endpoint: "6001".into(),
            location: None
        }
    );
    let aors = t("6001/aorA,aorB");
    assert_eq!(aors.aors(), ["aorA", "aorB"]);
    let uri = t("mytrunk/sip:1234@10.0.0.5:5060");
    assert_eq!(uri.location.as_deref(), Some("sip:1234@10.0.0.5:5060"));
    assert!(uri.aors().is_empty());
    let both = t("1234@mytrunk/sip:host");
    assert_eq!(both.endpoint, "1234@mytrunk");
    assert_eq!(
        both.candidates(true),
        vec![
            Ok(("1234@mytrunk".to_string(), None)),
            Ok(("mytrunk".to_string(), Some("1234".to_string())))
        ]
    );
    assert_eq!(
        both.candidates(false),
        vec![Ok(("mytrunk".to_string(), Some("1234".to_string())))]
    );

    let endpoints = ["mytrunk", "1234@multi", "6001"];
    let exists = |n: &str| endpoints.contains(&n);
    assert_eq!(
        both.resolve(true, exists),
        Ok(ResolvedTarget {
            endpoint: "mytrunk".into(),
            request_user: Some("1234".into()),
            location: Some("sip:host".into())
        })
    );
    let multi = t("1234@multi");
    assert_eq!(
        multi
            .resolve(true, exists)
            .map(|r| (r.endpoint, r.request_user)),
        Ok(("1234@multi".to_string(), None))
    );
    assert_eq!(
        multi.resolve(false, exists),
        Err(PjsipDialError::NotFound("multi".into()))
    );
    assert_eq!(
        t("7000").resolve(true, exists).map_err(|e| e.to_string()),
        Err("Unable to create PJSIP channel - endpoint '7000' was not found".to_string())
    );

    // Error texts, as chan_pjsip logs them.
    let err = |s: &str, multi: bool| {
        PjsipTarget::parse(s)
            .and_then(|t| t.resolve(multi, exists))
            .map_err(|e| (e.to_string(), e.cause()))
    };
    assert_eq!(
        err("", true),
        Err((
            "Unable to create PJSIP channel with empty destination".into(),
            Cause::CHANNEL_UNACCEPTABLE
        ))
    );
    assert_eq!(
        err("/sip:x", true),
        Err((
            "Unable to create PJSIP channel with empty endpoint name".into(),
            Cause::CHANNEL_UNACCEPTABLE
        ))
    );
    assert_eq!(
        err("1234@", true),
        Err((
            "Unable to create PJSIP channel with empty endpoint name: 1234@<endpoint-name>".into(),
            Cause::CHANNEL_UNACCEPTABLE
        ))
    );
    assert_eq!(
        err("nobody@nowhere", true),
        Err((
            "Unable to create PJSIP channel - endpoint 'nowhere' was not found".into(),
            Cause::NO_ROUTE_DESTINATION
        ))
    );
}

// ---- dialplan show ----

#[test]
fn dialplan_show_layout() {
    let d = dialplan(
        "[internal]\nexten => _600X,1,NoOp(Call to ${EXTEN})\n same => n(dial),Dial(PJSIP/${EXTEN},30)\n\
         exten => 6001,hint,PJSIP/6001\nexten => 6001,1,Answer()\n\
         exten => 100/5551234,1,Hangup()\n\
         include => other\ninclude => timed,9:00-17:00,mon-fri,*,*\n\
         [other]\n[timed]\n",
    );
    let all = dialplan_show(&d, None);
    let want = "\
[ Context 'internal' created by 'pbx_config' ]
  '100' (CID match '5551234') => 1. Hangup()                                   [extensions.conf:6]
  '6001' =>         hint: PJSIP/6001                              [extensions.conf:4]
                    1. Answer()                                   [extensions.conf:5]
  '_600X' =>        1. NoOp(Call to ${EXTEN})                     [extensions.conf:2]
     [dial]         2. Dial(PJSIP/${EXTEN},30)                    [extensions.conf:3]
  Include =>        'other'                                       [pbx_config]
  Include =>        'timed,9:00-17:00,mon-fri,*,*'                [pbx_config]

[ Context 'other' created by 'pbx_config' ]

[ Context 'timed' created by 'pbx_config' ]

-= 3 extensions (5 priorities) in 3 contexts. =-
";
    assert_eq!(all, want);
    let one = dialplan_show(&d, Some("other"));
    assert_eq!(
        one,
        "[ Context 'other' created by 'pbx_config' ]\n\n-= 0 extensions (0 priorities) in 1 context. =-\n"
    );
    assert_eq!(
        dialplan_show(&d, Some("x")),
        "There is no existence of 'x' context\n"
    );
}

// ---- logs ----

// ---- no panics on any input ----

proptest::proptest! {
    #[test]
    fn substitution_and_expressions_never_panic(
        text in "[-$\\[\\]{}()a-c0-9:?=~!<>&|*/%\\\\\" ,^.+]{0,60}"
    ) {
        let d = dialplan(PLAN);
        let e = exec_at(&d, "600", "6001");
        let mut f = Fake::default();
        let _ = e.substitute(&d, &mut f, &text);
        let _ = expr::evaluate(&text);
    }

    #[test]
    fn dial_strings_never_panic(s in "[-a-z0-9/@&,:()^ ]{0,40}") {
        if let Ok(d) = DialArgs::parse(&s) {
            for t in d.targets {
                if let Ok(p) = PjsipTarget::parse(&t.resource) {
                    let _ = p.resolve(true, |n| n.len() % 2 == 0);
                    let _ = p.resolve(false, |n| n.len() % 2 == 0);
                }
            }
        }
    }

    #[test]
    fn any_dialplan_line_runs_to_an_end(app in "[A-Za-z]{1,8}", args in "[-a-z0-9,()$\\[\\]{}?:=+ ]{0,30}") {
        let d = Dialplan::load_str(
            &MemFs::new(),
            Path::new(FILE),
            &format!("[c]\nexten => 1,1,{app}({args})\n same => n,Goto(1)\n"),
        );
        if let Ok(l) = d {
            let mut f = Fake::default();
            let mut e = Execution::start(&l.dialplan, "c", "1", CallerIdentity::default());
            for _ in 0..5 {
                let _ = e.run(&l.dialplan, &mut f);
            }
        }
    }
}
