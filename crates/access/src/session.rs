//! Dashboard sessions: a browser that signed in with a token holds a random session id in an
//! `HttpOnly`, `SameSite=Strict` cookie; the server keeps the id's hash, the role and an expiry.
//! Sessions live in memory: a restart signs everyone out, which is safe and costs a sign-in.
use std::collections::HashMap;

use openqoe_model::ServerTime;

use crate::token::{Secret, TokenHash};
use crate::Role;

/// The cookie's name.
pub const COOKIE: &str = "openqoe_session";

/// Sessions held at most; signing in beyond it ends the session closest to expiring.
pub const MAX_SESSIONS: usize = 10_000;

/// Who a session is, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in token's role.
    pub role: Role,
    /// The token's id, so that revoking it ends its sessions.
    pub token_id: String,
    /// The token's name, for audit lines.
    pub name: String,
    /// When it stops being valid.
    pub expires: ServerTime,
}

/// The live sessions, by the hash of their id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<Vec<u8>, Session>,
}

impl Sessions {
    /// Opens `session`; returns the id to put in the cookie.
    pub fn open(&mut self, session: Session, now: ServerTime) -> Secret {
        self.by_id.retain(|_, s| s.expires > now);
        if self.by_id.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
            {
                self.by_id.remove(&oldest);
            }
        }
        let id = Secret::generate();
        self.by_id.insert(key(&id.hash()), session);
        id
    }

    /// The session whose id is `presented`, if it is live at `now`.
    pub fn find(&self, presented: &str, now: ServerTime) -> Option<&Session> {
        self.by_id
            .get(&key(&TokenHash::of(presented)))
            .filter(|s| s.expires > now)
    }

    /// Ends the session whose id is `presented`.
    pub fn close(&mut self, presented: &str) {
        self.by_id.remove(&key(&TokenHash::of(presented)));
    }

    /// Ends every session opened with the token `token_id`; returns how many.
    pub fn close_token(&mut self, token_id: &str) -> usize {
        let before = self.by_id.len();
        self.by_id.retain(|_, s| s.token_id != token_id);
        before - self.by_id.len()
    }
}

/// A map key from a hash; the lookup is by hash so a timing difference says nothing of an id.
fn key(hash: &TokenHash) -> Vec<u8> {
    String::from(hash.clone()).into_bytes()
}

/// The value of cookie `name` in a `Cookie` header, if present.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// The `Set-Cookie` value opening a session for `max_age_s` (`Secure` when served over TLS).
pub fn set_cookie(id: &Secret, max_age_s: u64, secure: bool) -> String {
    format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        id.expose(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value ending the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(token_id: &str, expires: i64) -> Session {
        Session {
            role: Role::Read,
            token_id: token_id.into(),
            name: "n".into(),
            expires: ServerTime(expires),
        }
    }

    #[test]
    fn a_session_is_found_by_its_id_until_it_expires_or_is_closed() {
        let mut sessions = Sessions::default();
        let id = sessions.open(session("t1", 1_000), ServerTime(0));
        assert_eq!(
            sessions
                .find(id.expose(), ServerTime(999))
                .unwrap()
                .token_id,
            "t1"
        );
        assert!(
            sessions.find(id.expose(), ServerTime(1_000)).is_none(),
            "expired"
        );
        assert!(sessions.find("oq_guess", ServerTime(0)).is_none());
        sessions.close(id.expose());
        assert!(
            sessions.find(id.expose(), ServerTime(0)).is_none(),
            "closed"
        );
    }

    #[test]
    fn revoking_a_token_ends_its_sessions_only() {
        let mut sessions = Sessions::default();
        let a = sessions.open(session("t1", 1_000), ServerTime(0));
        let b = sessions.open(session("t2", 1_000), ServerTime(0));
        assert_eq!(sessions.close_token("t1"), 1);
        assert!(sessions.find(a.expose(), ServerTime(0)).is_none());
        assert!(sessions.find(b.expose(), ServerTime(0)).is_some());
    }

    #[test]
    fn sessions_are_bounded() {
        let mut sessions = Sessions::default();
        let first = sessions.open(session("t", 10), ServerTime(0));
        for i in 0..MAX_SESSIONS {
            sessions.open(session("t", 1_000 + i as i64), ServerTime(0));
        }
        assert_eq!(sessions.by_id.len(), MAX_SESSIONS);
        assert!(
            sessions.find(first.expose(), ServerTime(0)).is_none(),
            "the soonest to expire went"
        );
    }

    #[test]
    fn cookies_are_read_and_written_as_browsers_do() {
        assert_eq!(
            cookie_value("a=1; openqoe_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("openqoe_session_x=1", COOKIE), None);
        assert_eq!(cookie_value("", COOKIE), None);
        let id = Secret::generate();
        let cookie = set_cookie(&id, 60, true);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Strict")
                && cookie.ends_with("; Secure")
        );
        assert!(!set_cookie(&id, 60, false).contains("Secure"));
    }
}
