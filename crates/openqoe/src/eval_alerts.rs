//! `openqoe eval alerts`: the detector against a simulated, accelerated week with known answers.
//!
//! The simulator's own population and playback model generate every view (no HTTP: views are
//! complete when generated, so each minute is judged with all its data, as the server judges a
//! minute after its grace). Traffic follows a daily curve (night trough, evening peak) and the
//! network dips in the evening, so volumes and rates are seasonal. Incidents with known
//! dimensions, effects and times are injected; the harness reports false alerts per day,
//! detection rate and time to detect, and whether root cause named the incident's dimensions.
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Instant;

use openqoe_detect::{AlertChange, ChangeKind, DetectConfig, Detector};
use openqoe_metrics::{view_minutes, MinuteCounts};
use openqoe_model::{Batch, ServerTime};
use openqoe_sessionize::{SessionizeConfig, Sessionizer};
use openqoe_sim::{content, simulate_view, viewer, Incident, Viewer};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};

const MINUTE_MS: i64 = 60_000;
/// How far the newest events of the viewers sending now lag real time: the SDK flushes every
/// 10 s, so the server's detection clock runs this much behind.
const FLUSH_LAG_MS: i64 = 10_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Alerts fired this long after an incident's end still belong to it.
const MATCH_AFTER_MS: i64 = 15 * MINUTE_MS;
/// Dimensions incidents are drawn from; an ISP implies its country and an OS its device type,
/// so those pairs are never combined (they would name the same views twice).
const INCIDENT_DIMENSIONS: [&str; 7] = [
    "cdn",
    "country",
    "isp",
    "device_type",
    "os",
    "app_version",
    "player_name",
];

/// What `openqoe eval alerts` runs.
#[derive(Debug, Clone)]
pub struct AlertEval {
    /// Simulated days.
    pub days: f64,
    /// Viewers at the evening peak.
    pub viewers: usize,
    /// Injected incidents.
    pub incidents: usize,
    /// Seed of population and incidents.
    pub seed: u64,
}

/// One injected incident and what the detector made of it.
#[derive(Debug, Serialize)]
struct IncidentOutcome {
    filters: BTreeMap<String, String>,
    effect: String,
    start_min: f64,
    minutes: f64,
    /// Share of the views started during the incident that it hit.
    view_share: f64,
    detected: bool,
    time_to_detect_s: Option<f64>,
    first_alert: Option<String>,
    top_cause: Option<BTreeMap<String, String>>,
    exact_top1: bool,
    exact_top1_at_firing: bool,
    in_top3: bool,
    lenient: bool,
}

/// The figures.
#[derive(Debug, Serialize)]
struct Report {
    days: f64,
    peak_viewers: usize,
    views: u64,
    attempts_per_min_p50: f64,
    alerts: usize,
    false_alerts: usize,
    false_alerts_per_day: f64,
    incidents: usize,
    incidents_at_least_2pct: usize,
    detected_within_3_min_at_least_2pct: f64,
    detected_at_all: f64,
    time_to_detect_s_p50: Option<f64>,
    time_to_detect_s_max: Option<f64>,
    rca_exact_top1: f64,
    rca_exact_top1_at_firing: f64,
    rca_top3: f64,
    rca_lenient: f64,
    run_seconds: f64,
    judge_ms_per_minute_p50: f64,
    judge_ms_per_minute_max: f64,
    outcomes: Vec<IncidentOutcome>,
    false_alert_summaries: Vec<String>,
}

/// Share of peak viewers active at `ms` into a day: a night trough of 25 % at 04:00, a peak at
/// 21:00 (a smooth daily curve).
fn activity(ms: i64) -> f64 {
    let hour = (ms.rem_euclid(DAY_MS)) as f64 / HOUR_MS as f64;
    let phase = (hour - 21.0) / 24.0 * std::f64::consts::TAU;
    0.625 + 0.375 * phase.cos()
}

/// The evening network dip as incidents with no dimension filter (not counted as incidents).
fn evening(days: f64) -> Vec<Incident> {
    let mut dips = Vec::new();
    for day in 0..days.ceil() as i64 {
        for (hour, hours, factor) in [(19, 1, 0.9), (20, 2, 0.8), (22, 1, 0.9)] {
            dips.push(Incident {
                filters: Vec::new(),
                at_ms: day * DAY_MS + hour * HOUR_MS,
                for_ms: Some(hours * HOUR_MS),
                throughput: factor,
                rtt: 1.0,
                startup_failure: 0.0,
                playback_failure: 0.0,
            });
        }
    }
    dips
}

/// Incidents spread over the run after a two-hour warm-up, at least 90 minutes apart.
fn incidents(rng: &mut SmallRng, count: usize, run_ms: i64) -> Vec<Incident> {
    let usable = run_ms - 3 * HOUR_MS;
    let slot = usable / count.max(1) as i64;
    (0..count as i64)
        .map(|i| {
            let template = viewer(rng);
            let mut dims: Vec<&str> = Vec::new();
            let wanted = rng.gen_range(1..=3);
            while dims.len() < wanted {
                let dim = INCIDENT_DIMENSIONS[rng.gen_range(0..INCIDENT_DIMENSIONS.len())];
                let clash = |a: &str, b: &str| {
                    dims.contains(&a) && dim == b || dims.contains(&b) && dim == a
                };
                if dims.contains(&dim) || clash("country", "isp") || clash("device_type", "os") {
                    continue;
                }
                dims.push(dim);
            }
            let filters = dims
                .iter()
                .map(|d| {
                    (
                        d.to_string(),
                        template.props[*d].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            let minutes = rng.gen_range(10..=45);
            let mut incident = Incident {
                filters,
                at_ms: 2 * HOUR_MS
                    + i * slot
                    + rng.gen_range(0..(slot - 90 * MINUTE_MS).max(MINUTE_MS)),
                for_ms: Some(minutes * MINUTE_MS),
                throughput: 1.0,
                rtt: 1.0,
                startup_failure: 0.0,
                playback_failure: 0.0,
            };
            match rng.gen_range(0..4) {
                0 => incident.startup_failure = rng.gen_range(0.3..0.8),
                1 => incident.playback_failure = rng.gen_range(0.3..0.8),
                2 => incident.throughput = rng.gen_range(0.08..0.25),
                _ => incident.rtt = rng.gen_range(8.0..20.0),
            }
            incident
        })
        .collect()
}

fn effect(incident: &Incident) -> String {
    if incident.startup_failure > 0.0 {
        format!("startup_failure +{:.2}", incident.startup_failure)
    } else if incident.playback_failure > 0.0 {
        format!("playback_failure +{:.2}", incident.playback_failure)
    } else if incident.throughput < 1.0 {
        format!("throughput ×{:.2}", incident.throughput)
    } else {
        format!("rtt ×{:.1}", incident.rtt)
    }
}

/// One view's minutes keyed by its leaf, ready to add to the pending minutes.
struct Generated {
    leaf: Vec<Option<String>>,
    minutes: Vec<(ServerTime, MinuteCounts)>,
    last_ms: i64,
    props: serde_json::Map<String, Value>,
}

/// Generates a viewer's next view starting at `start_ms` and measures it like the server does.
fn generate(
    rng: &mut SmallRng,
    who: &Viewer,
    all_incidents: &[Incident],
    start_ms: i64,
    dimensions: &[String],
    sessionizer: &mut Sessionizer,
) -> Generated {
    let what = content(rng);
    let first_of_session = rng.gen::<f64>() < 0.3;
    let planned = simulate_view(
        rng,
        who,
        &what,
        all_incidents,
        start_ms,
        0,
        first_of_session,
    );
    let last_ms = planned
        .events
        .last()
        .and_then(|e| e["ts"].as_i64())
        .unwrap_or(start_ms);
    let body = json!({
        "v": 1,
        "view": {"id": planned.id, "viewer_id": who.viewer_id, "props": planned.props},
        "events": planned.events,
    });
    let batch = Batch::parse(body.to_string().as_bytes(), ServerTime(last_ms))
        .expect("the simulator speaks wire v1");
    let mut ended = Vec::new();
    sessionizer
        .apply(batch, &mut ended)
        .expect("a view keeps its events unless let go");
    // A view without view_end ends when idle; here at once, at its last event.
    sessionizer.expire(ServerTime(last_ms + 61 * MINUTE_MS), &mut ended);
    let view = ended.pop();
    let (leaf, minutes) = match view {
        Some(view) => (
            dimensions.iter().map(|d| view.dimension(d)).collect(),
            view_minutes(&view, MINUTE_MS),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Generated {
        leaf,
        minutes,
        last_ms,
        props: planned.props,
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize])
}

/// Runs the week and prints the report as JSON.
pub fn run(eval: AlertEval) -> anyhow::Result<()> {
    let began = Instant::now();
    let run_ms = (eval.days * DAY_MS as f64) as i64;
    let mut rng = SmallRng::seed_from_u64(eval.seed);
    let injected = incidents(&mut rng, eval.incidents, run_ms);
    let mut all_incidents = injected.clone();
    all_incidents.extend(evening(eval.days));

    let config = DetectConfig::default();
    let mut detector = Detector::new(&config).map_err(anyhow::Error::msg)?;
    let dimensions = detector.dimensions().to_vec();
    let grace_ms = detector.grace_ms();
    // Generators (one per core) each own part of the population and send views in start order;
    // this thread sums them into minutes and judges a minute once every generator is past it.
    let generators = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (sender, receiver) = std::sync::mpsc::sync_channel::<(usize, i64, Generated)>(4_096);
    for g in 0..generators {
        let sender = sender.clone();
        let all_incidents = all_incidents.clone();
        let dimensions = dimensions.clone();
        let population = eval.viewers / generators + usize::from(g < eval.viewers % generators);
        let seed = eval.seed ^ (g as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        std::thread::spawn(move || {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut sessionizer = Sessionizer::new(SessionizeConfig::default());
            let viewers: Vec<Viewer> = (0..population).map(|_| viewer(&mut rng)).collect();
            // Next start of each viewer, earliest first.
            let mut queue: BinaryHeap<Reverse<(i64, usize)>> = (0..population)
                .map(|i| Reverse((rng.gen_range(0..10 * MINUTE_MS), i)))
                .collect();
            while let Some(Reverse((start_ms, who))) = queue.pop() {
                if start_ms >= run_ms {
                    break;
                }
                let view = generate(
                    &mut rng,
                    &viewers[who],
                    &all_incidents,
                    start_ms,
                    &dimensions,
                    &mut sessionizer,
                );
                let length = (view.last_ms - start_ms).max(MINUTE_MS) as f64;
                let mean_gap = length * (1.0 / activity(view.last_ms) - 1.0) + 4_000.0;
                let gap = -mean_gap * (1.0 - rng.gen::<f64>()).ln();
                queue.push(Reverse((view.last_ms + gap as i64, who)));
                if sender.send((g, start_ms, view)).is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);

    let mut leaf_ids: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    let mut leaves: Vec<Vec<Option<String>>> = Vec::new();
    let mut pending: BTreeMap<i64, HashMap<usize, MinuteCounts>> = BTreeMap::new();
    let mut frontier = vec![i64::MIN; generators];
    let mut changes: Vec<AlertChange> = Vec::new();
    let mut next_minute = 0;
    let (mut views, mut attempts_per_min, mut judge_ms) = (0u64, Vec::new(), Vec::new());
    // Views started and hit per incident, for each incident's share of views.
    let mut exposure = vec![(0u64, 0u64); injected.len()];
    let mut judge_until = |until: i64,
                           pending: &mut BTreeMap<i64, HashMap<usize, MinuteCounts>>,
                           leaves: &[Vec<Option<String>>],
                           next_minute: &mut i64| {
        while *next_minute + MINUTE_MS <= until && *next_minute < run_ms {
            let minute = pending.remove(next_minute).unwrap_or_default();
            attempts_per_min.push(minute.values().map(|c| c.attempts as f64).sum::<f64>());
            let rows: Vec<(Vec<Option<String>>, MinuteCounts)> = minute
                .into_iter()
                .map(|(leaf, counts)| (leaves[leaf].clone(), counts))
                .collect();
            let t = Instant::now();
            // In a server the minute is judged once the viewers sending have passed its end by
            // the grace; their newest events lag by up to the SDK's 10 s flush.
            let judged_at = *next_minute + MINUTE_MS + grace_ms + FLUSH_LAG_MS;
            detector.judge_minute(
                ServerTime(*next_minute),
                &rows,
                false,
                ServerTime(judged_at),
                &mut changes,
            );
            judge_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            *next_minute += MINUTE_MS;
        }
    };
    for (g, start_ms, view) in receiver {
        frontier[g] = start_ms;
        views += 1;
        for (i, incident) in injected.iter().enumerate() {
            if incident_window(incident, start_ms) {
                exposure[i].0 += 1;
                exposure[i].1 += u64::from(incident.hits(&view.props, start_ms));
            }
        }
        let leaf = match leaf_ids.get(&view.leaf) {
            Some(id) => *id,
            None => {
                leaves.push(view.leaf.clone());
                leaf_ids.insert(view.leaf, leaves.len() - 1);
                leaves.len() - 1
            }
        };
        for (minute, counts) in view.minutes {
            if minute.0 >= next_minute {
                pending
                    .entry(minute.0)
                    .or_default()
                    .entry(leaf)
                    .or_default()
                    .add(&counts);
            }
        }
        let low = frontier.iter().copied().min().unwrap_or(i64::MIN);
        judge_until(low, &mut pending, &leaves, &mut next_minute);
    }
    judge_until(run_ms, &mut pending, &leaves, &mut next_minute);

    let fired: Vec<&AlertChange> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Firing && c.alert.reopened == 0)
        .collect();
    // An alert belongs to an incident when it fired during it (or soon after) and is about its
    // viewers: its top cause (or, without one, one of its cohorts — all views included) names
    // nothing that contradicts the incident's dimension values.
    let related = |alert: &openqoe_detect::Alert, incident: &Incident| {
        let filters: BTreeMap<&str, &str> = incident
            .filters
            .iter()
            .map(|(d, v)| (d.as_str(), v.as_str()))
            .collect();
        let fits = |element: &BTreeMap<String, String>| {
            element
                .iter()
                .all(|(d, v)| filters.get(d.as_str()).is_none_or(|want| want == v))
        };
        match alert.causes.first() {
            Some(cause) => fits(&cause.element),
            None => alert.cohorts.iter().any(fits),
        }
    };
    let belongs = |incident: &Incident, alert: &openqoe_detect::Alert| {
        let at = alert.fired_at;
        at >= incident.at_ms
            && at <= incident.at_ms + incident.for_ms.unwrap_or(0) + MATCH_AFTER_MS
            && related(alert, incident)
    };
    let final_causes: HashMap<&str, Vec<openqoe_rca::Cause>> = detector
        .alerts()
        .map(|a| (a.id.as_str(), a.causes.clone()))
        .collect();
    let mut outcomes = Vec::new();
    let mut detect_times = Vec::new();
    for (i, incident) in injected.iter().enumerate() {
        let first = fired.iter().find(|c| belongs(incident, &c.alert));
        let filters: BTreeMap<String, String> = incident.filters.iter().cloned().collect();
        // Root cause as the alert holds it at the end (refined 2, 5 and 10 minutes after
        // firing), and as it was when it fired.
        let causes = first
            .and_then(|c| final_causes.get(c.alert.id.as_str()).cloned())
            .unwrap_or_default();
        let top = causes.first().map(|c| c.element.clone());
        let top_at_firing = first.and_then(|c| c.alert.causes.first().map(|c| c.element.clone()));
        let subset = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            a.iter().all(|(k, v)| b.get(k) == Some(v))
        };
        let time_to_detect_s = first.map(|c| (c.alert.fired_at - incident.at_ms) as f64 / 1000.0);
        if let Some(t) = time_to_detect_s {
            detect_times.push(t);
        }
        let (started, hit) = exposure[i];
        outcomes.push(IncidentOutcome {
            effect: effect(incident),
            start_min: incident.at_ms as f64 / MINUTE_MS as f64,
            minutes: incident.for_ms.unwrap_or(0) as f64 / MINUTE_MS as f64,
            view_share: if started > 0 {
                hit as f64 / started as f64
            } else {
                0.0
            },
            detected: first.is_some(),
            time_to_detect_s,
            first_alert: first.map(|c| c.alert.summary.clone()),
            exact_top1: top.as_ref() == Some(&filters),
            exact_top1_at_firing: top_at_firing.as_ref() == Some(&filters),
            in_top3: causes.iter().take(3).any(|c| c.element == filters),
            lenient: top
                .as_ref()
                .is_some_and(|t| subset(t, &filters) || subset(&filters, t)),
            top_cause: top,
            filters,
        });
    }
    let false_alerts: Vec<&AlertChange> = fired
        .iter()
        .filter(|c| !injected.iter().any(|i| belongs(i, &c.alert)))
        .copied()
        .collect();
    let big: Vec<&IncidentOutcome> = outcomes.iter().filter(|o| o.view_share >= 0.02).collect();
    let share = |pass: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            pass as f64 / of as f64
        }
    };
    let detected: Vec<&IncidentOutcome> = outcomes.iter().filter(|o| o.detected).collect();
    detect_times.sort_by(f64::total_cmp);
    attempts_per_min.sort_by(f64::total_cmp);
    judge_ms.sort_by(f64::total_cmp);
    let report = Report {
        days: eval.days,
        peak_viewers: eval.viewers,
        views,
        attempts_per_min_p50: percentile(&attempts_per_min, 0.5).unwrap_or(0.0),
        alerts: fired.len(),
        false_alerts: false_alerts.len(),
        false_alerts_per_day: false_alerts.len() as f64 / eval.days,
        incidents: outcomes.len(),
        incidents_at_least_2pct: big.len(),
        detected_within_3_min_at_least_2pct: share(
            big.iter()
                .filter(|o| o.time_to_detect_s.is_some_and(|t| t <= 180.0))
                .count(),
            big.len(),
        ),
        detected_at_all: share(detected.len(), outcomes.len()),
        time_to_detect_s_p50: percentile(&detect_times, 0.5),
        time_to_detect_s_max: detect_times.last().copied(),
        rca_exact_top1_at_firing: share(
            detected.iter().filter(|o| o.exact_top1_at_firing).count(),
            detected.len(),
        ),
        rca_exact_top1: share(
            detected.iter().filter(|o| o.exact_top1).count(),
            detected.len(),
        ),
        rca_top3: share(
            detected.iter().filter(|o| o.in_top3).count(),
            detected.len(),
        ),
        rca_lenient: share(
            detected.iter().filter(|o| o.lenient).count(),
            detected.len(),
        ),
        run_seconds: began.elapsed().as_secs_f64(),
        judge_ms_per_minute_p50: percentile(&judge_ms, 0.5).unwrap_or(0.0),
        judge_ms_per_minute_max: judge_ms.last().copied().unwrap_or(0.0),
        false_alert_summaries: false_alerts
            .iter()
            .map(|c| {
                format!(
                    "minute {}: {}",
                    c.alert.fired_at / MINUTE_MS,
                    c.alert.summary
                )
            })
            .collect(),
        outcomes,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Whether `ms` falls in the incident's time window (whatever the views).
fn incident_window(incident: &Incident, ms: i64) -> bool {
    ms >= incident.at_ms
        && incident
            .for_ms
            .is_none_or(|length| ms < incident.at_ms + length)
}
