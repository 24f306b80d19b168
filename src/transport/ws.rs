//! SIP over WebSocket (RFC 7118): the handshake must offer the `sip` subprotocol, which is
//! echoed (browsers drop the socket otherwise); then each text or binary WebSocket message
//! is one SIP message, and each SIP message we send is one text message (binary when it is
//! not UTF-8). Keep-alives are WebSocket pings.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Shared;
use super::flow::{Flow, Received};
use crate::sip::Limits;

/// Whether the client offered the `sip` subprotocol (RFC 7118 4.1).
fn offers_sip(req: &Request) -> bool {
    req.headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"))
}

#[allow(clippy::result_large_err)] // the signature is tungstenite's
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    if !offers_sip(req) {
        let mut refusal = ErrorResponse::new(Some(
            "the 'sip' WebSocket subprotocol (RFC 7118) is required".to_string(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    resp.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

/// Serves one WebSocket connection (over TCP or TLS) until it closes.
pub(super) async fn serve<S>(
    stream: S,
    mut flow: Flow,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let max = Limits::default().max_message;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config));
    let limit = shared.tuning.message_timeout;
    let Some(ws) = super::stream::handshake_within(limit, "WebSocket", &flow, handshake).await
    else {
        return;
    };
    let Some((reg, tx, rx)) = super::stream::register(&mut flow, &shared) else {
        return;
    };
    let (sink, mut source) = ws.split();
    let mut writer = tokio::spawn(write_loop(sink, rx, shared.keep_alive()));
    loop {
        tokio::select! {
            m = tokio::time::timeout(shared.tuning.idle_timeout, source.next()) => match m {
                Ok(Some(Ok(WsMessage::Text(text)))) => deliver(&shared, &flow, Bytes::from(text)),
                Ok(Some(Ok(WsMessage::Binary(bytes)))) => deliver(&shared, &flow, bytes),
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) => break,
                Ok(Some(Ok(_))) => {} // ping, pong: tungstenite answers pings itself
                Ok(Some(Err(e))) => {
                    tracing::debug!("transport '{}': WebSocket error from {}: {e}", flow.transport, flow.remote);
                    break;
                }
                Err(_) => {
                    tracing::info!("transport '{}': {} silent for {} s; closing", flow.transport, flow.remote, shared.tuning.idle_timeout.as_secs());
                    break;
                }
            },
            _ = &mut writer => break,
            _ = stop.changed() => break,
        }
    }
    super::stream::close(reg, tx, writer, &flow).await;
}

fn deliver(shared: &Shared, flow: &Flow, bytes: Bytes) {
    shared
        .logger
        .received(flow.protocol_name(), flow.remote, &bytes);
    shared.dispatch(Received {
        flow: flow.clone(),
        bytes,
    });
}

async fn write_loop<K>(mut sink: K, mut rx: mpsc::Receiver<Bytes>, keep_alive: Option<Duration>)
where
    K: futures_util::Sink<WsMessage> + Unpin,
{
    let mut tick = keep_alive
        .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        let message = tokio::select! {
            m = rx.recv() => match m {
                Some(bytes) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => WsMessage::text(text),
                    Err(_) => WsMessage::binary(bytes),
                },
                None => break,
            },
            _ = super::next_tick(&mut tick) => WsMessage::Ping(Bytes::new()),
        };
        if sink.send(message).await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}
