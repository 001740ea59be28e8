//! Privacy before storage, against a real server (issue 22): with `[privacy]` pseudonymising a
//! prop and dropping another, and viewer ids pseudonymised (the default), nothing the server
//! writes — the write-ahead log, the hour files — holds what the player sent for them, also after
//! a restart (the log replays pseudonyms as they are, never hashing them twice); the views carry
//! HMAC-SHA256 pseudonyms that this test computes itself from the installation's secret; and
//! filters on the original values still find the views.
mod support;

use std::path::Path;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::{get_json, now_ms, post_acknowledged, wait_for_file, Restartable};

const HOUR_MS: i64 = 3_600_000;
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const NOTE: &str = "call-me-on-555-0100";

/// The pseudonym of `value` under the secret in `data_dir`, computed apart from the server.
fn pseudonym(data_dir: &Path, value: &str) -> String {
    let secret = std::fs::read_to_string(data_dir.join("privacy").join("secret")).unwrap();
    let secret = hex::decode(secret.trim()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(value.as_bytes());
    format!("h-{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// A view of `viewer` started at `start`, ended or not.
fn view(id: &str, viewer: &str, start: i64, ended: bool) -> Value {
    let event = |seq: u64, ms: i64, kind: &str| json!({"seq": seq, "ts": start + ms, "type": kind});
    let mut events = vec![
        event(0, 0, "play_requested"),
        event(1, 1_500, "first_frame"),
    ];
    if ended {
        events.push(event(2, 60_000, "view_end"));
    }
    json!({
        "v": 1, "key": "demo",
        "view": {"id": id, "viewer_id": viewer, "session_id": "s-1",
                 "props": {"cdn": "cdn-a", "user_email": viewer, "note": NOTE}},
        "events": events,
    })
}

/// Every file under `dir` whose bytes hold one of `needles`.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needles));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{} holds {needle}", path.display()));
            }
        }
    }
    found
}

#[tokio::test]
async fn identifiers_are_pseudonymised_or_dropped_before_anything_is_written() {
    let setup = Restartable::new(
        "[store]\nsettle_minutes = 0\n[privacy]\nhash_props = [\"user_email\"]\ndrop_props = [\"note\"]\n",
    );
    let data = &setup.data;
    let server = setup.start();
    let client = server.client();
    // An ended view three hours ago (its hour settles and is written at the restart), and a
    // live one now.
    let settled = (now_ms() / HOUR_MS - 3) * HOUR_MS + HOUR_MS / 2;
    let bodies = [
        view("settled", ALICE, settled, true),
        view("live", BOB, now_ms() - 5_000, false),
    ];
    post_acknowledged(&client, &server.url, &bodies).await;
    let raw = [ALICE, BOB, NOTE];
    assert_eq!(
        files_holding(data, &raw),
        Vec::<String>::new(),
        "in the log"
    );

    server.kill_9();
    let server = setup.start();
    let views_file = openqoe_store::hour_file(data, "views", settled / HOUR_MS * HOUR_MS);
    wait_for_file(&views_file).await;
    assert_eq!(
        files_holding(data, &raw),
        Vec::<String>::new(),
        "after the restart and the hour's files"
    );

    let (alice, bob) = (pseudonym(data, ALICE), pseudonym(data, BOB));
    for (id, viewer) in [("settled", &alice), ("live", &bob)] {
        let view = get_json(&client, &format!("{}/v1/views/{id}", server.url)).await;
        assert_eq!(view["viewer_id"], json!(viewer), "{id}: {view}");
        assert_eq!(view["props"]["user_email"], json!(viewer), "{id}");
        assert_eq!(view["props"]["cdn"], json!("cdn-a"), "{id}");
        assert_eq!(view["props"].get("note"), None, "{id}: dropped");
        assert_eq!(view["session_id"], json!("s-1"), "{id}: session ids stay");
    }
    // Filters on the values as sent find the views; so do the pseudonyms, copied from an answer.
    for filter in [
        format!("viewer_id:{ALICE}"),
        format!("user_email:{ALICE}"),
        format!("viewer_id:{alice}"),
    ] {
        let list = get_json(
            &client,
            &format!("{}/v1/views?from=0&filter={filter}", server.url),
        )
        .await;
        let ids: Vec<&str> = list["views"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["settled"], "{filter}");
        let breakdown = get_json(
            &client,
            &format!(
                "{}/v1/metrics/video_startup_time_ms/breakdown?from=0&filter={filter}",
                server.url
            ),
        )
        .await;
        assert_eq!(
            breakdown["rows"][0]["views"],
            json!(1),
            "{filter}: {breakdown}"
        );
    }
}

/// The `view_id`s in a Parquet file of the store.
fn view_ids(path: &Path) -> Vec<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut ids: Vec<String> = reader
        .get_row_iter(None)
        .unwrap()
        .map(Result::unwrap)
        .filter_map(|row| {
            row.get_column_iter().find_map(|(name, field)| match field {
                Field::Str(id) if name == "view_id" => Some(id.clone()),
                _ => None,
            })
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[tokio::test]
async fn an_erased_viewer_is_gone_from_memory_files_and_every_later_replay() {
    let setup = Restartable::new("[store]\nsettle_minutes = 0\n");
    let data = &setup.data;
    let server = setup.start();
    let client = server.client();
    let settled = (now_ms() / HOUR_MS - 3) * HOUR_MS + HOUR_MS / 2;
    let hour = settled / HOUR_MS * HOUR_MS;
    // Carol: a view in a settled hour and a live one; Dave: a view in the same hour, to keep.
    let bodies = [
        view("carol-old", "carol", settled, true),
        view("dave-old", "dave", settled + 60_000, true),
        view("carol-live", "carol", now_ms() - 5_000, false),
    ];
    post_acknowledged(&client, &server.url, &bodies).await;
    // The restart writes the settled hour's files.
    server.kill_9();
    let server = setup.start();
    // A new client: the old one's connections were to the process killed.
    let client = server.client();
    let (views_file, events_file) = (
        openqoe_store::hour_file(data, "views", hour),
        openqoe_store::hour_file(data, "events", hour),
    );
    wait_for_file(&views_file).await;
    assert_eq!(view_ids(&views_file), ["carol-old", "dave-old"]);

    let erase = format!("{}/v1/viewers/carol", server.url);
    let anonymous = reqwest::Client::new().delete(&erase).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "erasing needs a token");
    let answer = client.delete(&erase).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer, json!({"views_erased": 2, "hours_rewritten": 1}));

    only_dave(&client, &server.url, &views_file, &events_file).await;
    // The log still holds Carol's batches (its live view kept it from being cut); a restart
    // replays around them, and loads the hour files without them.
    server.kill_9();
    let server = setup.start();
    only_dave(&server.client(), &server.url, &views_file, &events_file).await;
    // Erasing again finds nothing, and says so.
    let again: Value = server
        .client()
        .delete(format!("{}/v1/viewers/carol", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!({"views_erased": 0, "hours_rewritten": 0}));
}

/// Carol's views are gone everywhere a reader can look; Dave's is there.
async fn only_dave(client: &reqwest::Client, url: &str, views_file: &Path, events_file: &Path) {
    for (id, status) in [("carol-old", 404), ("carol-live", 404), ("dave-old", 200)] {
        let got = client
            .get(format!("{url}/v1/views/{id}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(got.as_u16(), status, "{id}");
    }
    let list = get_json(
        client,
        &format!("{url}/v1/views?from=0&filter=viewer_id:carol"),
    )
    .await;
    assert_eq!(list["views"], json!([]), "{list}");
    let all = get_json(
        client,
        &format!("{url}/v1/metrics/video_startup_time_ms/breakdown?from=0"),
    )
    .await;
    assert_eq!(all["rows"][0]["views"], json!(1), "only Dave's view: {all}");
    assert_eq!(view_ids(views_file), ["dave-old"]);
    assert_eq!(view_ids(events_file), ["dave-old"]);
}
