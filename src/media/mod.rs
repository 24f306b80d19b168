//! Media: the RTP/RTCP relay, symmetric latching, G.711 transcoding, RFC 4733 DTMF and
//! sound playback.
