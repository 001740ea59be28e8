//! The probes: one new view per probe, sent on its own connection, then looked for through the
//! view API and a breakdown until both show it.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::ingest::load::{exchange, wall_ms, Accepted};

/// The startup time every probe view has, ms (`play_requested` → `first_frame`).
pub(crate) const PROBE_STARTUP_MS: u64 = 1_000;
/// How far back the breakdown looks, ms: the probe view started a little before its ack.
const BREAKDOWN_RANGE_MS: u64 = 60_000;
/// Pause between two polls that did not see the probe yet.
const POLL_PAUSE: Duration = Duration::from_millis(1);

/// One probe view: its id, its unique `probe` dimension value and its wire v1 body.
#[derive(Debug, Clone)]
pub(crate) struct ProbeView {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) body: String,
}

impl ProbeView {
    /// Probe `number` of run `run`, sent at `now_ms`: `play_requested`, `first_frame`
    /// [`PROBE_STARTUP_MS`] later and `view_end` at `now_ms`, so it ends in one batch with a
    /// startup time.
    pub(crate) fn build(key: &str, run: u64, number: u64, now_ms: u64) -> ProbeView {
        let id = format!("probe-{run}-{number}");
        let label = format!("p-{run}-{number}");
        let requested_at = now_ms - PROBE_STARTUP_MS - 200;
        let body = json!({
            "v": 1,
            "key": key,
            "sent_at": now_ms,
            "view": {
                "id": id,
                "viewer_id": format!("u-{id}"),
                "session_id": format!("s-{id}"),
                "props": {
                    "probe": label,
                    "content_id": "probe",
                    "stream_type": "vod",
                    "cdn": "cdn-a",
                    "device_type": "desktop",
                    "player_name": "hls.js",
                    "sdk_name": "openqoe-bench",
                },
            },
            "events": [
                {"seq": 0, "ts": requested_at, "type": "play_requested"},
                {"seq": 1, "ts": requested_at + PROBE_STARTUP_MS, "type": "first_frame"},
                {"seq": 2, "ts": now_ms, "type": "view_end", "reason": "unload"},
            ],
        })
        .to_string();
        ProbeView { id, label, body }
    }
}

/// What every probe shares.
pub(crate) struct ProbeContext {
    pub(crate) addr: SocketAddr,
    pub(crate) authority: String,
    /// Header lines the probe's reads send (the target's API token), each ending in CRLF.
    pub(crate) read_headers: String,
    pub(crate) key: String,
    pub(crate) run: u64,
    /// A probe not visible this long after its ack counts as a failure.
    pub(crate) timeout: Duration,
}

/// When one surface first showed a probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    /// From the probe's ack to the answer of the first GET that showed it.
    pub(crate) after_ack_us: u32,
    /// GETs sent, the one that showed it included.
    pub(crate) polls: u32,
    /// Round trip of that last GET (an upper bound on how much of `after_ack_us` is the GET).
    pub(crate) last_get_us: u32,
}

/// One probe's outcome: the ack, then each surface's `Seen` or why not.
pub(crate) struct ProbeOutcome {
    pub(crate) ack: Result<u32, String>,
    pub(crate) view_api: Result<Seen, String>,
    pub(crate) breakdown: Result<Seen, String>,
}

/// A keep-alive connection that sends one fixed GET request again and again.
struct Poller {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl Poller {
    async fn connect(
        addr: SocketAddr,
        authority: &str,
        headers: &str,
        path: &str,
    ) -> anyhow::Result<Poller> {
        let mut poller = Poller {
            addr,
            stream: None,
            request: format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\n{headers}\r\n")
                .into_bytes(),
            response: Vec::with_capacity(4096),
        };
        poller.stream = Some(connected(addr).await?);
        Ok(poller)
    }

    /// Sends the request; returns the status and the body.
    async fn get(&mut self) -> anyhow::Result<(u16, &[u8])> {
        if self.stream.is_none() {
            self.stream = Some(connected(self.addr).await?);
        }
        let socket = self.stream.as_mut().expect("connected above");
        let outcome = exchange(socket, &self.request, &mut self.response).await;
        if !matches!(outcome, Ok((_, _, false))) {
            self.stream = None;
        }
        let (status, body_start, _) = outcome?;
        Ok((status, &self.response[body_start..]))
    }
}

async fn connected(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    socket.set_nodelay(true)?;
    Ok(socket)
}

/// Whether a `GET /v1/views/{id}` answer shows view `id`: `404` not yet, `200` with that id yes.
///
/// # Errors
/// Any other answer, or a `200` that is not the view.
pub(crate) fn view_is_visible(status: u16, body: &[u8], id: &str) -> Result<bool, String> {
    match status {
        404 => Ok(false),
        200 => {
            let view: Value =
                serde_json::from_slice(body).map_err(|e| format!("view JSON: {e}"))?;
            match view["id"].as_str() {
                Some(got) if got == id => Ok(true),
                got => Err(format!("view {id}: answer has id {got:?}")),
            }
        }
        other => Err(format!(
            "view {id}: {other} {}",
            String::from_utf8_lossy(body).trim()
        )),
    }
}

/// Views a breakdown answer counts in its first row (a breakdown without `group_by` has one).
///
/// # Errors
/// A status other than `200`, or a body that is not a breakdown.
pub(crate) fn breakdown_views(status: u16, body: &[u8]) -> Result<u64, String> {
    if status != 200 {
        return Err(format!(
            "breakdown: {status} {}",
            String::from_utf8_lossy(body).trim()
        ));
    }
    let answer: Value = serde_json::from_slice(body).map_err(|e| format!("breakdown JSON: {e}"))?;
    let rows = answer["rows"]
        .as_array()
        .ok_or_else(|| format!("breakdown: expected rows, got {answer}"))?;
    Ok(rows
        .first()
        .and_then(|row| row["views"].as_u64())
        .unwrap_or(0))
}

/// Polls until `shows` says yes, an error, or `deadline`.
async fn poll_until(
    poller: &mut Poller,
    acked: Instant,
    deadline: Instant,
    shows: impl Fn(u16, &[u8]) -> Result<bool, String>,
) -> Result<Seen, String> {
    let micros = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
    let mut polls = 0_u32;
    loop {
        let sent = Instant::now();
        let (status, body) = poller.get().await.map_err(|e| format!("GET: {e:#}"))?;
        let answered = Instant::now();
        polls += 1;
        if shows(status, body)? {
            return Ok(Seen {
                after_ack_us: micros(answered.duration_since(acked)),
                polls,
                last_get_us: micros(answered.duration_since(sent)),
            });
        }
        if answered >= deadline {
            return Err(format!(
                "not visible {:.1} s after the ack ({polls} polls)",
                answered.duration_since(acked).as_secs_f64()
            ));
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// Sends probe `number` and looks for it through the view API and a breakdown at once, each on
/// its own connection opened before the probe is sent.
pub(crate) async fn run_probe(context: &ProbeContext, number: u64) -> ProbeOutcome {
    let failed = |reason: String| ProbeOutcome {
        ack: Err(reason),
        view_api: Err("probe not acknowledged".into()),
        breakdown: Err("probe not acknowledged".into()),
    };
    match send_and_look(context, number).await {
        Ok(outcome) => outcome,
        Err(e) => failed(format!("{e:#}")),
    }
}

async fn send_and_look(context: &ProbeContext, number: u64) -> anyhow::Result<ProbeOutcome> {
    let now_ms = wall_ms();
    let probe = ProbeView::build(&context.key, context.run, number, now_ms);
    let view_path = format!("/v1/views/{}", probe.id);
    let breakdown_path = format!(
        "/v1/metrics/video_startup_time_ms/breakdown?filter=probe:{}&from={}",
        probe.label,
        now_ms - BREAKDOWN_RANGE_MS
    );
    let mut view_poller = Poller::connect(
        context.addr,
        &context.authority,
        &context.read_headers,
        &view_path,
    )
    .await?;
    let mut breakdown_poller = Poller::connect(
        context.addr,
        &context.authority,
        &context.read_headers,
        &breakdown_path,
    )
    .await?;
    let mut socket = connected(context.addr).await?;
    let request = format!(
        "POST /v1/events HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        context.authority,
        probe.body.len(),
        probe.body
    );
    let mut response = Vec::with_capacity(1024);
    let sent = Instant::now();
    let (status, body_start, _) = exchange(&mut socket, request.as_bytes(), &mut response).await?;
    let acked = Instant::now();
    let body = &response[body_start..];
    if status != 202 {
        bail!(
            "probe {}: {status} {}",
            probe.id,
            String::from_utf8_lossy(body).trim()
        );
    }
    let accepted: Accepted = serde_json::from_slice(body).context("probe 202 body")?;
    if accepted.accepted != 3 {
        bail!(
            "probe {}: 202 accepted {} of 3 events ({} duplicates)",
            probe.id,
            accepted.accepted,
            accepted.duplicates
        );
    }
    let deadline = acked + context.timeout;
    let (view_api, breakdown) = tokio::join!(
        poll_until(&mut view_poller, acked, deadline, |status, body| {
            view_is_visible(status, body, &probe.id)
        }),
        poll_until(&mut breakdown_poller, acked, deadline, |status, body| {
            breakdown_views(status, body).map(|views| views >= 1)
        }),
    );
    Ok(ProbeOutcome {
        ack: Ok(u32::try_from(acked.duration_since(sent).as_micros()).unwrap_or(u32::MAX)),
        view_api,
        breakdown,
    })
}

#[cfg(test)]
mod tests {
    use openqoe_model::{Batch, ClientTime, ServerTime};

    use super::*;

    #[test]
    fn probe_bodies_parse_as_one_ended_view_with_a_startup_time() {
        let now_ms = 1_764_028_800_000;
        let probe = ProbeView::build("demo", 1_764_028_700_000, 17, now_ms);
        assert_eq!(probe.id, "probe-1764028700000-17");
        assert_eq!(probe.label, "p-1764028700000-17");
        let batch = Batch::parse(probe.body.as_bytes(), ServerTime(now_ms as i64 + 3))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(batch.key.as_deref(), Some("demo"));
        assert_eq!(batch.view.id.as_str(), probe.id);
        assert_eq!(batch.view.props["probe"], probe.label.as_str());
        assert_eq!(batch.sent_at, Some(ClientTime(now_ms as i64)));
        let kinds: Vec<&str> = batch.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["play_requested", "first_frame", "view_end"]);
        let startup = batch.events[1].ts.0 - batch.events[0].ts.0;
        assert_eq!(startup, PROBE_STARTUP_MS as i64);
        // Skew correction puts the last event at the receive time, the first before it.
        assert_eq!(batch.events[2].at, ServerTime(now_ms as i64 + 3));
        assert!(batch.events[0].at.0 > now_ms as i64 - BREAKDOWN_RANGE_MS as i64);
    }

    #[test]
    fn probe_views_and_labels_differ_by_run_and_number() {
        let a = ProbeView::build("demo", 1, 2, 1_764_028_800_000);
        let b = ProbeView::build("demo", 1, 3, 1_764_028_800_000);
        let c = ProbeView::build("demo", 2, 2, 1_764_028_800_000);
        assert!(a.id != b.id && a.id != c.id && b.id != c.id);
        assert!(a.label != b.label && a.label != c.label && b.label != c.label);
    }

    #[test]
    fn answers_say_whether_the_probe_shows() {
        let id = "probe-1-2";
        let view = |status, body: &str| view_is_visible(status, body.as_bytes(), id);
        assert_eq!(view(404, r#"{"error":"no view probe-1-2"}"#), Ok(false));
        assert_eq!(
            view(200, r#"{"id":"probe-1-2","status":"ended"}"#),
            Ok(true)
        );
        assert!(view(200, r#"{"id":"probe-1-3"}"#).is_err(), "another view");
        assert!(view(503, "busy").is_err(), "a refusal");

        let rows = |status, body: &str| breakdown_views(status, body.as_bytes());
        let empty =
            r#"{"metric":"video_startup_time_ms","rows":[{"group":{},"views":0,"p50":null}]}"#;
        let one =
            r#"{"metric":"video_startup_time_ms","rows":[{"group":{},"views":1,"p50":1000.0}]}"#;
        assert_eq!(rows(200, empty), Ok(0));
        assert_eq!(rows(200, one), Ok(1));
        assert_eq!(rows(200, r#"{"rows":[]}"#), Ok(0));
        assert!(rows(200, r#"{"error":"x"}"#).is_err(), "not a breakdown");
        assert!(rows(400, r#"{"error":"filter: expected dim:value"}"#).is_err());
    }
}
