//! One simulated view, generated whole and up front: a network that varies, a buffer-based ABR,
//! and stalls that emerge when throughput falls below the bitrate. Pure: an rng and times in,
//! events out.
use rand::rngs::SmallRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::population::{log_normal, normal, random_id, Content, Viewer};
use crate::Incident;

/// The bitrate ladder: (bitrate, width, height, codec).
const LADDER: [(u64, u32, u32, &str); 5] = [
    (400_000, 426, 240, "avc1.42c015"),
    (800_000, 640, 360, "avc1.4d401e"),
    (1_600_000, 854, 480, "avc1.4d401f"),
    (3_000_000, 1280, 720, "avc1.64001f"),
    (6_000_000, 1920, 1080, "avc1.640028"),
];
const SEGMENT_MS: f64 = 2_000.0;
/// An incident's `playback_failure` is the chance that a view playing this long through it fails.
const FAILURE_SPAN_MS: f64 = 240_000.0;
const MAX_BUFFER_MS: f64 = 30_000.0;
/// Buffer-based ABR (Huang et al., BBA): below the reservoir take the lowest rendition, above
/// reservoir + cushion the highest, linear in between.
const RESERVOIR_MS: f64 = 5_000.0;
const CUSHION_MS: f64 = 20_000.0;

/// A view's whole timeline, ready to send.
#[derive(Debug, Clone)]
pub struct PlannedView {
    /// The view id.
    pub id: String,
    /// Dimension values.
    pub props: Map<String, Value>,
    /// Wire events with `seq` from 0 and `ts` in sim time, in order.
    pub events: Vec<Value>,
}

/// Where the simulated view is and what it has emitted.
struct Playback<'a> {
    rng: &'a mut SmallRng,
    props: Map<String, Value>,
    incidents: &'a [Incident],
    run_start_ms: i64,
    viewer: &'a Viewer,
    events: Vec<(f64, Value)>,
    /// Log-space deviation of throughput from the viewer's median (an AR(1) process).
    wobble: f64,
    /// A congestion episode (a crowded cell, a busy evening link) lasts until then.
    congested_until: f64,
    /// Throughput multiplier during the episode.
    congestion: f64,
}

impl Playback<'_> {
    fn emit(&mut self, t: f64, kind: &str, fields: Value) {
        let mut event = json!({"type": kind});
        if let Value::Object(extra) = fields {
            event.as_object_mut().expect("object").extend(extra);
        }
        self.events.push((t, event));
    }

    fn incident_effect(&self, t: f64, effect: impl Fn(&Incident) -> f64, neutral: f64) -> f64 {
        self.incidents
            .iter()
            .filter(|i| i.hits(&self.props, t as i64 - self.run_start_ms))
            .map(effect)
            .fold(
                neutral,
                |acc, v| if neutral == 0.0 { acc + v } else { acc * v },
            )
    }

    /// Throughput for a download starting at `t`; the network wanders every call.
    fn throughput_bps(&mut self, t: f64) -> f64 {
        self.wobble = 0.85 * self.wobble + 0.25 * normal(self.rng);
        if t >= self.congested_until && self.rng.gen::<f64>() < 0.01 {
            self.congested_until = t + self.rng.gen_range(8_000.0..45_000.0);
            self.congestion = self.rng.gen_range(0.05..0.3);
        }
        let congestion = if t < self.congested_until {
            self.congestion
        } else {
            1.0
        };
        let incident = self.incident_effect(t, |i| i.throughput, 1.0);
        (self.viewer.throughput_bps * self.wobble.exp() * congestion * incident).max(50_000.0)
    }

    fn rtt_ms(&mut self, t: f64) -> f64 {
        self.viewer.rtt_ms
            * self.incident_effect(t, |i| i.rtt, 1.0)
            * (1.0 + 0.2 * self.rng.gen::<f64>())
    }

    fn download_ms(&mut self, t: f64, bitrate: u64) -> (f64, f64) {
        let throughput = self.throughput_bps(t);
        let bits = bitrate as f64 * SEGMENT_MS / 1000.0;
        (self.rtt_ms(t) + bits / throughput * 1000.0, throughput)
    }
}

fn rendition_fields(index: usize) -> Value {
    let (bitrate, width, height, codec) = LADDER[index];
    json!({"bitrate_bps": bitrate, "width": width, "height": height, "fps": 30, "codec": codec})
}

/// Picks a rendition from the buffer level, capped by what the measured throughput sustains.
fn choose_rendition(buffer_ms: f64, throughput_estimate: f64) -> usize {
    let by_buffer = if buffer_ms <= RESERVOIR_MS {
        0
    } else if buffer_ms >= RESERVOIR_MS + CUSHION_MS {
        LADDER.len() - 1
    } else {
        (((buffer_ms - RESERVOIR_MS) / CUSHION_MS) * (LADDER.len() - 1) as f64).round() as usize
    };
    let by_throughput = LADDER
        .iter()
        .rposition(|r| (r.0 as f64) < 0.8 * throughput_estimate)
        .unwrap_or(0);
    by_buffer.min(by_throughput)
}

/// Generates one view starting at `start_ms` (sim clock) of a run that started at `run_start_ms`.
pub fn simulate_view(
    rng: &mut SmallRng,
    viewer: &Viewer,
    content: &Content,
    incidents: &[Incident],
    start_ms: i64,
    run_start_ms: i64,
    first_of_session: bool,
) -> PlannedView {
    let mut props = viewer.props.clone();
    props.extend(content.props.clone());
    let id = random_id(rng);
    let mut p = Playback {
        rng,
        props,
        incidents,
        run_start_ms,
        viewer,
        events: Vec::new(),
        wobble: 0.0,
        congested_until: 0.0,
        congestion: 1.0,
    };
    let mut t = start_ms as f64;

    let init_fields = if first_of_session {
        json!({"page_load_ms": log_normal(p.rng, 900.0, 0.4).round()})
    } else {
        json!({})
    };
    p.emit(t, "player_init", init_fields);
    t += log_normal(p.rng, 250.0, 0.4);
    p.emit(t, "player_ready", json!({}));
    t += log_normal(p.rng, 600.0, 0.8);
    p.emit(t, "play_requested", json!({}));

    let patience_ms = log_normal(p.rng, 9_000.0, 0.7);
    let startup_failure = 0.004 + p.incident_effect(t, |i| i.startup_failure, 0.0);
    if p.rng.gen::<f64>() < startup_failure {
        t += log_normal(p.rng, 1_500.0, 0.6);
        let code =
            ["manifestLoadError", "keySystemNoAccess", "fragLoadError"][p.rng.gen_range(0..3)];
        p.emit(
            t,
            "error",
            json!({"code": code, "message": "playback could not start", "fatal": true}),
        );
        p.emit(t + 200.0, "view_end", json!({"reason": "error"}));
        return finish(p, id);
    }
    if !content.live && p.rng.gen::<f64>() < 0.06 {
        t += 150.0;
        p.emit(t, "ad_break_start", json!({}));
        t += p.rng.gen_range(15_000.0..30_000.0);
        p.emit(t, "ad_break_end", json!({}));
    }

    // Startup: two round trips for manifests, then the first segment at a cautious rendition.
    // Viewers sit through a pre-roll; their patience counts from when the content is due.
    let requested = t;
    let rtt = p.rtt_ms(t);
    // Player and decoder set-up (source buffers, licence, first decode) on top of the network.
    t += 2.0 * rtt + log_normal(p.rng, 700.0, 0.5);
    let mut rendition = 1;
    let (download, mut estimate) = p.download_ms(t, LADDER[rendition].0);
    let first_frame_at = t + download + 40.0;
    let waited = first_frame_at - requested;
    if waited > patience_ms || p.rng.gen::<f64>() < 0.01 {
        // Exit before video start: the viewer gave up waiting (a few leave almost at once).
        let gave_up = requested + patience_ms.min(waited * p.rng.gen::<f64>()).max(300.0);
        if gave_up > t {
            p.emit(t, "rendition_change", rendition_fields(rendition));
        }
        p.emit(gave_up, "view_end", json!({"reason": "unload"}));
        return finish(p, id);
    }
    p.emit(t, "rendition_change", rendition_fields(rendition));
    t = first_frame_at;
    p.emit(t, "first_frame", json!({}));

    // Playback, one segment download at a time; the buffer drains while playing.
    let watch_ms = log_normal(p.rng, 240_000.0, 0.9).clamp(30_000.0, 1_200_000.0);
    let to_end = !content.live && watch_ms >= content.duration_ms;
    let watch_ms = watch_ms.min(content.duration_ms);
    let pause_at = (p.rng.gen::<f64>() < 0.06).then(|| watch_ms * p.rng.gen::<f64>());
    let seek_at = (p.rng.gen::<f64>() < 0.12).then(|| watch_ms * p.rng.gen::<f64>());
    // Background failures are scheduled over the view; an incident's strike views while it lasts
    // (a hazard per segment), so views already playing fail too.
    let fail_at = (p.rng.gen::<f64>() < 0.003).then(|| watch_ms * p.rng.gen::<f64>());
    let warn_at = (p.rng.gen::<f64>() < 0.03).then(|| watch_ms * p.rng.gen::<f64>());
    let stall_patience_ms = log_normal(p.rng, 45_000.0, 0.5);
    let (mut buffer, mut played, mut dropped) = (SEGMENT_MS, 0.0, 0u64);
    let mut next_heartbeat = t + 10_000.0;
    let (mut paused, mut sought, mut warned) = (false, false, false);

    while played < watch_ms {
        let incident_failure = p.incident_effect(t, |i| i.playback_failure, 0.0).min(1.0);
        let struck = incident_failure > 0.0
            && p.rng.gen::<f64>()
                < 1.0 - (1.0 - incident_failure).powf(SEGMENT_MS / FAILURE_SPAN_MS);
        if struck || fail_at.is_some_and(|at| played >= at) {
            let code =
                ["fragParsingError", "bufferAppendError", "mediaError"][p.rng.gen_range(0..3)];
            p.emit(
                t,
                "error",
                json!({"code": code, "message": "playback stopped", "fatal": true}),
            );
            p.emit(t + 300.0, "view_end", json!({"reason": "error"}));
            return finish(p, id);
        }
        if !warned && warn_at.is_some_and(|at| played >= at) {
            warned = true;
            p.emit(
                t,
                "error",
                json!({"code": "fragLoadTimeOut", "fatal": false}),
            );
        }
        if !paused && pause_at.is_some_and(|at| played >= at) {
            paused = true;
            p.emit(t, "pause", json!({}));
            t += log_normal(p.rng, 20_000.0, 0.8);
            p.emit(t, "play", json!({}));
        }
        if !sought && seek_at.is_some_and(|at| played >= at) {
            sought = true;
            p.emit(t, "seek_start", json!({"from_ms": played.round()}));
            let (download, _) = p.download_ms(t, LADDER[rendition].0);
            t += download;
            buffer = SEGMENT_MS;
            p.emit(t, "seek_end", json!({"to_ms": (played + 60_000.0).round()}));
        }
        let choice = choose_rendition(buffer, estimate);
        if choice != rendition {
            rendition = choice;
            p.emit(t, "rendition_change", rendition_fields(rendition));
        }
        let (download, throughput) = p.download_ms(t, LADDER[rendition].0);
        estimate = 0.7 * estimate + 0.3 * throughput;
        if download > buffer {
            // The buffer runs dry before the segment arrives: a stall.
            let stall_at = t + buffer;
            played += buffer;
            p.emit(stall_at, "stall_start", json!({}));
            let stall_ms = download - buffer;
            if stall_ms > stall_patience_ms {
                p.emit(
                    stall_at + stall_patience_ms,
                    "view_end",
                    json!({"reason": "unload"}),
                );
                return finish(p, id);
            }
            p.emit(t + download, "stall_end", json!({}));
            buffer = SEGMENT_MS;
        } else {
            played += download;
            buffer += SEGMENT_MS - download;
        }
        t += download;
        if buffer > MAX_BUFFER_MS {
            // Full buffer: the player idles until there is room for another segment.
            let idle = buffer - (MAX_BUFFER_MS - SEGMENT_MS);
            t += idle;
            played += idle;
            buffer -= idle;
        }
        if rendition == LADDER.len() - 1 && p.rng.gen::<f64>() < 0.05 {
            dropped += p.rng.gen_range(1..6);
        }
        while next_heartbeat <= t {
            let fields = json!({"playhead_ms": played.round(), "buffer_ms": buffer.round(),
                                "bandwidth_bps": estimate.round(), "dropped_frames": dropped});
            p.emit(next_heartbeat, "heartbeat", fields);
            next_heartbeat += 10_000.0;
        }
    }
    if to_end {
        p.emit(t, "ended", json!({}));
        t += p.rng.gen_range(1_000.0..5_000.0);
    }
    p.emit(
        t,
        "view_end",
        json!({"reason": if to_end { "ended" } else { "unload" }}),
    );
    finish(p, id)
}

/// Orders the events by time and numbers them.
fn finish(p: Playback<'_>, id: String) -> PlannedView {
    let mut events = p.events;
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let events = events
        .into_iter()
        .enumerate()
        .map(|(seq, (t, mut event))| {
            event["seq"] = json!(seq);
            event["ts"] = json!(t.round() as i64);
            event
        })
        .collect();
    PlannedView {
        id,
        props: p.props,
        events,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::population::{content, viewer};

    fn views(seed: u64, n: usize, incidents: &[Incident]) -> Vec<PlannedView> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let who = viewer(&mut rng);
                let what = content(&mut rng);
                simulate_view(
                    &mut rng,
                    &who,
                    &what,
                    incidents,
                    1_000_000 + i as i64,
                    1_000_000,
                    true,
                )
            })
            .collect()
    }

    fn kinds(view: &PlannedView) -> Vec<&str> {
        view.events
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn every_view_is_well_formed() {
        for view in views(1, 400, &[]) {
            let seqs: Vec<u64> = view
                .events
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
                .collect();
            assert_eq!(
                seqs,
                (0..seqs.len() as u64).collect::<Vec<_>>(),
                "seq from 0, no gaps"
            );
            let ts: Vec<i64> = view
                .events
                .iter()
                .map(|e| e["ts"].as_i64().unwrap())
                .collect();
            assert!(
                ts.windows(2).all(|w| w[0] <= w[1]),
                "time never goes backwards"
            );
            let kinds = kinds(&view);
            assert_eq!(kinds.last(), Some(&"view_end"));
            let starts = kinds.iter().filter(|k| **k == "stall_start").count();
            let ends = kinds.iter().filter(|k| **k == "stall_end").count();
            assert!(
                starts == ends || (starts == ends + 1),
                "stalls pair up, but for an abandoned one"
            );
            if !kinds.contains(&"first_frame") {
                assert!(
                    !kinds.contains(&"heartbeat"),
                    "no playback without a first frame"
                );
            }
        }
    }

    #[test]
    fn the_population_has_failures_exits_and_stalls() {
        let all = views(2, 1500, &[]);
        let count = |kind: &str| all.iter().filter(|v| kinds(v).contains(&kind)).count();
        let ebvs = all
            .iter()
            .filter(|v| !kinds(v).contains(&"first_frame") && !kinds(v).contains(&"error"))
            .count();
        assert!(
            count("stall_start") > 30,
            "some views stall: {}",
            count("stall_start")
        );
        assert!(
            ebvs > 5 && ebvs < 300,
            "some viewers exit before start: {ebvs}"
        );
        assert!(count("seek_start") > 50 && count("pause") > 20 && count("ad_break_start") > 10);
    }

    #[test]
    fn a_throughput_incident_causes_more_stalls() {
        let slow: Incident = "throughput=0.1".parse().unwrap();
        let stalls = |views: &[PlannedView]| {
            views
                .iter()
                .map(|v| kinds(v).iter().filter(|k| **k == "stall_start").count())
                .sum::<usize>()
        };
        let normal = stalls(&views(3, 300, &[]));
        let degraded = stalls(&views(3, 300, &[slow]));
        assert!(
            degraded > normal * 2,
            "stalls: {normal} normally, {degraded} with the incident"
        );
    }

    #[test]
    fn a_startup_failure_incident_fails_matching_views() {
        let broken: Incident = "app_version=3.2.0,startup_failure=1".parse().unwrap();
        for view in views(4, 200, &[broken]) {
            let failed = kinds(&view).contains(&"error") && !kinds(&view).contains(&"first_frame");
            if view.props["app_version"] == "3.2.0" {
                assert!(failed, "every 3.2.0 view fails to start");
            }
        }
    }
}
