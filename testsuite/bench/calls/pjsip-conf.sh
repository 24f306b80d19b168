# shellcheck shell=bash
# The pjsipd configuration of the call benchmarks (calls_vs_kamailio.sh,
# call_instructions.sh): endpoint "uac" identified by the uac's IP:port, context bench:
# Dial(PJSIP/uas); aor "uas" with a static contact; direct_media=no and timers=no, so each
# call is INVITE/200/ACK and BYE/200 on both legs with the relay allocating media ports.
# bench_pjsip_conf DIR PORT UAC_PORT UAS_PORT: writes DIR/pjsip.conf and DIR/extensions.conf.
bench_pjsip_conf() {
    cat >"$1/pjsip.conf" <<CONF
[t]
type=transport
protocol=udp
bind=127.0.0.1:$2

[uac]
type=endpoint
context=bench
disallow=all
allow=ulaw
direct_media=no
timers=no

[uac-identify]
type=identify
endpoint=uac
match=127.0.0.1:$3

[uas]
type=endpoint
context=bench
disallow=all
allow=ulaw
aors=uas
direct_media=no
timers=no

[uas]
type=aor
contact=sip:uas@127.0.0.1:$4
CONF
    printf '[bench]\nexten => _X.,1,Dial(PJSIP/uas)\n same => n,Hangup()\n' >"$1/extensions.conf"
}
