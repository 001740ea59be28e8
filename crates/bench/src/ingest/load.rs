//! The connections: one task per keep-alive connection, one request in flight, counted.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::bodies::{identity, BodyTemplate, ViewShape, IDENTITY_WIDTH, PROPS_VARIANTS};
use super::pace::{Pace, Schedule};
use super::{ClientKind, Failures};

pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the connections share: the request templates (by props variant, then position) and
/// where to send them.
pub(crate) struct Plan {
    pub(crate) templates: Vec<Vec<BodyTemplate>>,
    pub(crate) shape: ViewShape,
    pub(crate) views_per_connection: usize,
    pub(crate) run: u64,
    pub(crate) client: ClientKind,
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    /// Acknowledgements count between `from` and `until`.
    pub(crate) from: Instant,
    pub(crate) until: Instant,
    /// How fast each connection sends.
    pub(crate) pace: Pace,
    /// Whether to note every acknowledged batch ([`Tally::acked`]), warm-up included.
    pub(crate) ledger: bool,
}

/// One connection's counts.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Within the window.
    pub(crate) events: u64,
    pub(crate) batches: u64,
    pub(crate) latencies_us: Vec<u32>,
    /// Over the whole run, warm-up included.
    pub(crate) duplicates: u64,
    pub(crate) short_accepts: u64,
    pub(crate) refusals: BTreeMap<u16, u64>,
    pub(crate) transport_errors: u64,
    pub(crate) first_failure: Option<String>,
    /// Each acknowledged batch as (view identity, batch position), when the plan keeps a ledger.
    pub(crate) acked: Vec<([u8; IDENTITY_WIDTH], usize)>,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: Tally) {
        self.events += other.events;
        self.batches += other.batches;
        self.latencies_us.extend(other.latencies_us);
        self.duplicates += other.duplicates;
        self.short_accepts += other.short_accepts;
        for (status, count) in other.refusals {
            *self.refusals.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.acked.extend(other.acked);
    }

    pub(crate) fn fail(&mut self, failure: String) {
        self.first_failure.get_or_insert(failure);
    }

    /// What went wrong over the whole run.
    pub(crate) fn failures(&self) -> Failures {
        Failures {
            refusals: self.refusals.clone(),
            transport_errors: self.transport_errors,
            short_accepts: self.short_accepts,
            duplicates: self.duplicates,
            first: self.first_failure.clone(),
        }
    }
}

/// A `202` answer's counts.
#[derive(Deserialize)]
pub(crate) struct Accepted {
    pub(crate) accepted: u64,
    pub(crate) duplicates: u64,
}

/// An answer: its status, and its body when it was not `202`.
pub(crate) enum Answer {
    Accepted(Accepted),
    Refused(u16, String),
}

/// Sends one pre-encoded request per call over one keep-alive connection.
pub(crate) enum Transport {
    Raw {
        addr: SocketAddr,
        stream: Option<TcpStream>,
        response: Vec<u8>,
    },
    Reqwest {
        client: reqwest::Client,
        url: String,
    },
}

impl Transport {
    pub(crate) async fn post(&mut self, request: &[u8], head_len: usize) -> anyhow::Result<Answer> {
        let (status, body) = match self {
            Transport::Raw {
                addr,
                stream,
                response,
            } => {
                if stream.is_none() {
                    let socket = TcpStream::connect(*addr).await?;
                    socket.set_nodelay(true)?;
                    *stream = Some(socket);
                }
                let socket = stream.as_mut().expect("connected above");
                let outcome = exchange(socket, request, response).await;
                if !matches!(outcome, Ok((_, _, false))) {
                    *stream = None; // an error or `connection: close`: reconnect next time
                }
                let (status, body_start, _) = outcome?;
                (status, response[body_start..].to_vec())
            }
            Transport::Reqwest { client, url } => {
                let answer = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(request[head_len..].to_vec())
                    .send()
                    .await?;
                let status = answer.status().as_u16();
                (status, answer.bytes().await?.to_vec())
            }
        };
        if status == 202 {
            Ok(Answer::Accepted(
                serde_json::from_slice(&body)
                    .with_context(|| format!("202 body: {}", String::from_utf8_lossy(&body)))?,
            ))
        } else {
            Ok(Answer::Refused(
                status,
                String::from_utf8_lossy(&body).into(),
            ))
        }
    }
}

/// Writes one request and reads its response into `response`; returns the status, where the
/// body starts (it runs to the end of `response`) and whether the server closes the connection.
pub(crate) async fn exchange(
    socket: &mut TcpStream,
    request: &[u8],
    response: &mut Vec<u8>,
) -> anyhow::Result<(u16, usize, bool)> {
    socket.write_all(request).await?;
    response.clear();
    let (status, body_start, body_len, close) = loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_response_head(&response[..end])?;
            break (head.status, end + 4, head.content_length, head.close);
        }
        response.reserve(1024);
        if socket.read_buf(response).await? == 0 {
            bail!("connection closed by the server");
        }
    };
    while response.len() < body_start + body_len {
        response.reserve(body_start + body_len - response.len());
        if socket.read_buf(response).await? == 0 {
            bail!("connection closed by the server inside a response body");
        }
    }
    response.truncate(body_start + body_len);
    Ok((status, body_start, close))
}

/// What a response head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) content_length: usize,
    /// `connection: close`: the server closes the connection after this response.
    pub(crate) close: bool,
}

/// Reads an HTTP/1.1 response head.
pub(crate) fn parse_response_head(head: &[u8]) -> anyhow::Result<ResponseHead> {
    let head = std::str::from_utf8(head).context("response head: expected ASCII")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("response status line: expected HTTP/1.1, got {status_line:?}"))?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().context("content-length: expected a number")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("transfer-encoding {value:?}: this client reads content-length bodies only");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(ResponseHead {
        status,
        content_length: length.unwrap_or(0),
        close,
    })
}

/// A view a connection is sending: which template row, which batch next, its client clock.
pub(crate) struct LiveView {
    pub(crate) identity: [u8; IDENTITY_WIDTH],
    pub(crate) variant: usize,
    pub(crate) position: usize,
    pub(crate) last_ts_ms: u64,
}

/// Drives one connection until the window ends; the request in flight then completes.
pub(crate) async fn drive_connection(plan: Arc<Plan>, connection: usize) -> Tally {
    let mut transport = match plan.client {
        ClientKind::Raw => Transport::Raw {
            addr: plan.addr,
            stream: None,
            response: Vec::with_capacity(1024),
        },
        ClientKind::Reqwest => Transport::Reqwest {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .build()
                .unwrap_or_default(),
            url: plan.url.clone(),
        },
    };
    let mut views_started = 0_u64;
    let mut new_view = || {
        views_started += 1;
        LiveView {
            identity: identity(plan.run, connection, views_started),
            variant: (connection * 7 + views_started as usize) % PROPS_VARIANTS,
            position: 0,
            last_ts_ms: 0,
        }
    };
    let mut views: Vec<LiveView> = (0..plan.views_per_connection.max(1))
        .map(|_| new_view())
        .collect();
    let (mut tally, mut request) = (Tally::default(), Vec::new());
    // Golden-ratio phases spread the connections' sends evenly over each interval.
    let phase = (connection as f64 * 0.618_034).fract();
    let mut schedule = Schedule::new(
        plan.pace,
        views.len(),
        plan.shape.view_batches,
        phase,
        Instant::now(),
    );
    while Instant::now() < plan.until {
        let view = match schedule.next(Instant::now()) {
            Ok(view) => &mut views[view],
            Err(wait) => {
                let left = plan.until.saturating_duration_since(Instant::now());
                tokio::time::sleep(wait.min(left)).await;
                continue;
            }
        };
        let template = &plan.templates[view.variant][view.position];
        let first_ts = wall_ms().max(view.last_ts_ms + 1);
        template.fill(&mut request, &view.identity, first_ts);
        let sent = Instant::now();
        let answer = transport.post(&request, template.head_len).await;
        let acked = Instant::now();
        let counted = acked >= plan.from && acked <= plan.until;
        match answer {
            Ok(Answer::Accepted(accepted)) => {
                let events = template.ts_at.len() as u64;
                tally.duplicates += accepted.duplicates;
                if accepted.accepted + accepted.duplicates != events {
                    tally.short_accepts += 1;
                    tally.fail(format!(
                        "202 counted {} of {events} events",
                        accepted.accepted + accepted.duplicates
                    ));
                }
                if counted {
                    tally.events += accepted.accepted;
                    tally.batches += 1;
                    let micros = acked.duration_since(sent).as_micros();
                    tally
                        .latencies_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
                if plan.ledger {
                    tally.acked.push((view.identity, view.position));
                }
                view.last_ts_ms = first_ts + events - 1;
                view.position += 1;
                if view.position == plan.shape.view_batches {
                    *view = new_view();
                }
            }
            Ok(Answer::Refused(status, body)) => {
                // The view keeps its position: the refused batch is sent again on its next turn.
                *tally.refusals.entry(status).or_default() += 1;
                tally.fail(format!("{status} {}", body.trim()));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                tally.transport_errors += 1;
                tally.fail(format!("transport: {e:#}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_give_status_length_and_close() {
        let head = |status, content_length, close| {
            Some(ResponseHead {
                status,
                content_length,
                close,
            })
        };
        let cases = [
            (
                "accepted",
                "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 31",
                head(202, 31, false),
            ),
            (
                "refused, closing",
                "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 10",
                head(503, 10, true),
            ),
            ("no body", "HTTP/1.1 204 No Content", head(204, 0, false)),
            (
                "chunked is not read",
                "HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked",
                None,
            ),
            ("not HTTP", "SSH-2.0-OpenSSH_9.2", None),
        ];
        for (name, head, want) in cases {
            assert_eq!(parse_response_head(head.as_bytes()).ok(), want, "{name}");
        }
    }
}
