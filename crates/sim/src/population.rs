//! Who the simulated viewers are: device, place, network, app, and what they watch.
use rand::rngs::SmallRng;
use rand::Rng;
use serde_json::{json, Map, Value};

/// Picks one item by weight.
fn pick<'a, T>(rng: &mut SmallRng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen::<f64>() * total;
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    &items[items.len() - 1].0
}

/// A standard normal sample (Box–Muller).
pub fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A log-normal sample with this median and log-space spread.
pub fn log_normal(rng: &mut SmallRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A random id of `[0-9a-f-]`, uuid-shaped.
pub fn random_id(rng: &mut SmallRng) -> String {
    let a: u128 = rng.gen();
    let hex = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

struct Device {
    device_type: &'static str,
    os: &'static [(&'static str, f64)],
    browser: &'static [(&'static str, f64)],
    player: (u32, u32),
    median_mbps: f64,
}

const DEVICES: &[(Device, f64)] = &[
    (
        Device {
            device_type: "desktop",
            os: &[("Windows", 6.0), ("macOS", 3.0), ("Linux", 1.0)],
            browser: &[
                ("Chrome", 6.0),
                ("Edge", 2.0),
                ("Firefox", 1.0),
                ("Safari", 1.0),
            ],
            player: (1280, 720),
            median_mbps: 15.0,
        },
        35.0,
    ),
    (
        Device {
            device_type: "mobile",
            os: &[("iOS", 5.0), ("Android", 5.0)],
            browser: &[("Safari", 4.0), ("Chrome", 6.0)],
            player: (414, 233),
            median_mbps: 6.0,
        },
        35.0,
    ),
    (
        Device {
            device_type: "tablet",
            os: &[("iPadOS", 6.0), ("Android", 4.0)],
            browser: &[("Safari", 6.0), ("Chrome", 4.0)],
            player: (1024, 576),
            median_mbps: 10.0,
        },
        8.0,
    ),
    (
        Device {
            device_type: "tv",
            os: &[("Tizen", 4.0), ("webOS", 3.0), ("Android TV", 3.0)],
            browser: &[("Smart TV", 1.0)],
            player: (1920, 1080),
            median_mbps: 20.0,
        },
        22.0,
    ),
];

struct Country {
    code: &'static str,
    isps: &'static [(&'static str, f64)],
    throughput: f64,
    rtt_ms: f64,
}

const COUNTRIES: &[(Country, f64)] = &[
    (
        Country {
            code: "US",
            isps: &[("Comcast", 4.0), ("Verizon", 3.0), ("AT&T", 3.0)],
            throughput: 1.0,
            rtt_ms: 35.0,
        },
        30.0,
    ),
    (
        Country {
            code: "DE",
            isps: &[("Deutsche Telekom", 5.0), ("Vodafone", 3.0), ("O2", 2.0)],
            throughput: 0.9,
            rtt_ms: 30.0,
        },
        15.0,
    ),
    (
        Country {
            code: "GB",
            isps: &[("BT", 4.0), ("Sky", 3.0), ("Virgin Media", 3.0)],
            throughput: 1.0,
            rtt_ms: 28.0,
        },
        12.0,
    ),
    (
        Country {
            code: "FR",
            isps: &[("Orange", 5.0), ("Free", 5.0)],
            throughput: 1.0,
            rtt_ms: 30.0,
        },
        10.0,
    ),
    (
        Country {
            code: "BR",
            isps: &[("Claro", 5.0), ("Vivo", 5.0)],
            throughput: 0.6,
            rtt_ms: 80.0,
        },
        12.0,
    ),
    (
        Country {
            code: "IN",
            isps: &[("Jio", 6.0), ("Airtel", 4.0)],
            throughput: 0.4,
            rtt_ms: 110.0,
        },
        13.0,
    ),
    (
        Country {
            code: "JP",
            isps: &[("NTT", 5.0), ("KDDI", 5.0)],
            throughput: 1.2,
            rtt_ms: 45.0,
        },
        8.0,
    ),
];

/// One title of the catalogue.
struct Title {
    content_id: &'static str,
    title: &'static str,
    series: &'static str,
    minutes: f64,
    live: bool,
}

const CATALOGUE: &[(Title, f64)] = &[
    (
        Title {
            content_id: "movie-42",
            title: "Big Buck Bunny",
            series: "",
            minutes: 10.0,
            live: false,
        },
        8.0,
    ),
    (
        Title {
            content_id: "movie-7",
            title: "Sintel",
            series: "",
            minutes: 15.0,
            live: false,
        },
        6.0,
    ),
    (
        Title {
            content_id: "movie-13",
            title: "Tears of Steel",
            series: "",
            minutes: 12.0,
            live: false,
        },
        5.0,
    ),
    (
        Title {
            content_id: "ep-101",
            title: "Harbour Lights S1E1",
            series: "Harbour Lights",
            minutes: 45.0,
            live: false,
        },
        7.0,
    ),
    (
        Title {
            content_id: "ep-102",
            title: "Harbour Lights S1E2",
            series: "Harbour Lights",
            minutes: 44.0,
            live: false,
        },
        5.0,
    ),
    (
        Title {
            content_id: "ep-201",
            title: "Night Shift S2E1",
            series: "Night Shift",
            minutes: 30.0,
            live: false,
        },
        6.0,
    ),
    (
        Title {
            content_id: "doc-5",
            title: "Deep Blue",
            series: "",
            minutes: 55.0,
            live: false,
        },
        3.0,
    ),
    (
        Title {
            content_id: "live-news",
            title: "News 24",
            series: "",
            minutes: 600.0,
            live: true,
        },
        6.0,
    ),
    (
        Title {
            content_id: "live-sport",
            title: "Match Day",
            series: "",
            minutes: 600.0,
            live: true,
        },
        5.0,
    ),
];

/// What stays with a viewer across views: device, place, network, app.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Pseudonymous viewer id.
    pub viewer_id: String,
    /// Dimension values of every view of this viewer.
    pub props: Map<String, Value>,
    /// Median throughput of this viewer's connection, bits per second.
    pub throughput_bps: f64,
    /// Round-trip time to the CDN, ms.
    pub rtt_ms: f64,
}

/// Samples a viewer.
pub fn viewer(rng: &mut SmallRng) -> Viewer {
    let device = pick(rng, DEVICES);
    let country = pick(rng, COUNTRIES);
    let player = *pick(
        rng,
        &[
            (("hls.js", "1.7.4"), 50.0),
            (("dash.js", "5.2.1"), 25.0),
            (("shaka-player", "5.2.12"), 25.0),
        ],
    );
    let mut props = Map::new();
    let mut set = |name: &str, value: Value| {
        props.insert(name.to_owned(), value);
    };
    set("device_type", json!(device.device_type));
    set("os", json!(pick(rng, device.os)));
    set("browser", json!(pick(rng, device.browser)));
    set("country", json!(country.code));
    set("isp", json!(pick(rng, country.isps)));
    set(
        "cdn",
        json!(pick(
            rng,
            &[("cdn-a", 45.0), ("cdn-b", 35.0), ("cdn-c", 20.0)]
        )),
    );
    set(
        "app_version",
        json!(pick(
            rng,
            &[("3.2.0", 40.0), ("3.1.0", 45.0), ("3.0.2", 15.0)]
        )),
    );
    set("player_name", json!(player.0));
    set("player_version", json!(player.1));
    set("sdk_name", json!("openqoe-sim"));
    set("sdk_version", json!(env!("CARGO_PKG_VERSION")));
    set("player_width", json!(device.player.0));
    set("player_height", json!(device.player.1));
    Viewer {
        viewer_id: format!("viewer-{:012x}", rng.gen::<u64>() & 0xffff_ffff_ffff),
        props,
        throughput_bps: log_normal(rng, device.median_mbps * country.throughput * 1e6, 0.6),
        rtt_ms: log_normal(rng, country.rtt_ms, 0.3),
    }
}

/// What one view plays: the title's props and how long the content runs.
pub struct Content {
    /// `content_id`, `title`, `series`, `stream_type`.
    pub props: Map<String, Value>,
    /// Content length, ms (live: effectively endless).
    pub duration_ms: f64,
    /// Whether it is a live stream (no `ended`, no pre-roll).
    pub live: bool,
}

/// Samples what a viewer watches next.
pub fn content(rng: &mut SmallRng) -> Content {
    let title = pick(rng, CATALOGUE);
    let mut props = Map::new();
    props.insert("content_id".into(), json!(title.content_id));
    props.insert("title".into(), json!(title.title));
    if !title.series.is_empty() {
        props.insert("series".into(), json!(title.series));
    }
    props.insert(
        "stream_type".into(),
        json!(if title.live { "live" } else { "vod" }),
    );
    Content {
        props,
        duration_ms: title.minutes * 60_000.0,
        live: title.live,
    }
}
