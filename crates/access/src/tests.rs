//! `Access` over real token files: the first start, roles, sessions and cross-site changes.
use axum::http::{header, HeaderMap, HeaderValue, Method};
use openqoe_model::ServerTime;

use crate::session::{Session, COOKIE};
use crate::token::{Secret, TokenEntry};
use crate::{Access, AccessConfig, FirstStart, Refusal, Role};

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    headers
}

#[test]
fn the_first_start_makes_one_admin_token_and_later_starts_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let (access, first) = Access::load(&AccessConfig::default(), dir.path()).unwrap();
    let FirstStart::AdminTokenMade(file) = first else {
        panic!("{first:?}")
    };
    let token = std::fs::read_to_string(&file).unwrap();
    let caller = access
        .authorise(
            &bearer(token.trim()),
            &Method::DELETE,
            Role::Admin,
            ServerTime(0),
        )
        .unwrap();
    assert_eq!(
        (caller.role, caller.name.as_str()),
        (Role::Admin, "first-admin")
    );
    let (again, first) = Access::load(&AccessConfig::default(), dir.path()).unwrap();
    assert_eq!(
        first,
        FirstStart::AdminTokenFileLeft(file.clone()),
        "the file is still there: say so"
    );
    assert!(again
        .authorise(
            &bearer(token.trim()),
            &Method::GET,
            Role::Read,
            ServerTime(0)
        )
        .is_ok());
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        Access::load(&AccessConfig::default(), dir.path())
            .unwrap()
            .1,
        FirstStart::TokensExist
    );
}

#[test]
fn configured_tokens_have_their_roles_and_nothing_else_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let (read, admin) = (Secret::generate(), Secret::generate());
    let config = AccessConfig {
        tokens: vec![
            TokenEntry {
                name: "grafana".into(),
                role: Role::Read,
                sha256: read.hash(),
            },
            TokenEntry {
                name: "ops".into(),
                role: Role::Admin,
                sha256: admin.hash(),
            },
        ],
        ..AccessConfig::default()
    };
    let (access, first) = Access::load(&config, dir.path()).unwrap();
    assert_eq!(
        first,
        FirstStart::TokensExist,
        "no token is made when some are configured"
    );
    let now = ServerTime(0);
    assert!(access
        .authorise(&bearer(read.expose()), &Method::GET, Role::Read, now)
        .is_ok());
    assert!(matches!(
        access.authorise(&bearer(read.expose()), &Method::PUT, Role::Admin, now),
        Err(Refusal::Role {
            needed: Role::Admin,
            has: Role::Read,
            ..
        })
    ));
    assert!(access
        .authorise(&bearer(admin.expose()), &Method::PUT, Role::Admin, now)
        .is_ok());
    assert!(matches!(
        access.authorise(&HeaderMap::new(), &Method::GET, Role::Read, now),
        Err(Refusal::NoCredential(Role::Read))
    ));
    assert!(matches!(
        access.authorise(&bearer("oq_nope"), &Method::GET, Role::Read, now),
        Err(Refusal::Unknown)
    ));
    let mut basic = HeaderMap::new();
    basic.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic Zm9vOmJhcg=="),
    );
    assert!(matches!(
        access.authorise(&basic, &Method::GET, Role::Read, now),
        Err(Refusal::Unknown)
    ));
}

#[test]
fn a_session_changes_nothing_from_another_site() {
    let dir = tempfile::tempdir().unwrap();
    let (access, _) = Access::load(&AccessConfig::default(), dir.path()).unwrap();
    let session = Session {
        role: Role::Admin,
        token_id: "t".into(),
        name: "ops".into(),
        expires: ServerTime(1_000),
    };
    let id = access.sessions.lock().unwrap().open(session, ServerTime(0));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("{COOKIE}={}", id.expose())).unwrap(),
    );
    headers.insert(header::HOST, HeaderValue::from_static("qoe.example.com"));
    assert!(access
        .authorise(&headers, &Method::GET, Role::Read, ServerTime(1))
        .is_ok());
    assert!(
        access
            .authorise(&headers, &Method::PUT, Role::Admin, ServerTime(1))
            .is_ok(),
        "no Origin: not a browser page"
    );
    headers.insert(
        "origin",
        HeaderValue::from_static("https://qoe.example.com"),
    );
    assert!(access
        .authorise(&headers, &Method::PUT, Role::Admin, ServerTime(1))
        .is_ok());
    headers.insert("origin", HeaderValue::from_static("https://evil.example"));
    assert!(matches!(
        access.authorise(&headers, &Method::PUT, Role::Admin, ServerTime(1)),
        Err(Refusal::CrossSite(_))
    ));
    assert!(
        access
            .authorise(&headers, &Method::GET, Role::Read, ServerTime(1))
            .is_ok(),
        "reads change nothing"
    );
    headers.remove("origin");
    headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    assert!(matches!(
        access.authorise(&headers, &Method::DELETE, Role::Admin, ServerTime(1)),
        Err(Refusal::CrossSite(_))
    ));
    assert!(
        matches!(
            access.authorise(&headers, &Method::GET, Role::Read, ServerTime(1_000)),
            Err(Refusal::Unknown)
        ),
        "expired"
    );
}

#[test]
fn the_open_demo_lets_everyone_in() {
    let access = Access::open();
    assert!(access.is_open());
    assert_eq!(
        access
            .authorise(&HeaderMap::new(), &Method::PUT, Role::Admin, ServerTime(0))
            .unwrap()
            .role,
        Role::Admin
    );
}
