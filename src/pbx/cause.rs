//! Hangup causes (Q.850), their SIP status codes and Dial()'s DIALSTATUS.
