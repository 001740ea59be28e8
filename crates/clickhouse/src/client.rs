//! ClickHouse over its HTTP interface: statements, `RowBinary` inserts, `JSONEachRow` selects. ClickHouse's
//! own refusal text is passed on word for word: it names the column or the setting at fault.
use std::time::Duration;

use reqwest::{Client, Url};
use serde_json::{Map, Value};

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one statement may take, answer included.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why ClickHouse did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// The configured address is not an `http://` or `https://` URL.
    #[error("{url:?} is not a ClickHouse HTTP address: {reason}")]
    BadUrl {
        /// The address as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No answer: the server is down, unreachable or too slow.
    #[error("ClickHouse did not answer: {0}")]
    Unreachable(String),
    /// ClickHouse answered with an error.
    #[error("ClickHouse refused (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// ClickHouse's exception text.
        message: String,
    },
    /// The answer was not one JSON object per line.
    #[error("ClickHouse's answer is not JSONEachRow: {0}")]
    BadAnswer(String),
}

/// A ClickHouse server's HTTP interface (`http://host:8123`, with `?database=…`, `user=` and
/// `password=` passed through as ClickHouse reads them).
#[derive(Clone)]
pub struct ClickHouse {
    http: Client,
    url: Url,
}

impl ClickHouse {
    /// A client for the server at `url`.
    ///
    /// # Errors
    /// [`ClickHouseError::BadUrl`] when `url` is not an HTTP(S) URL.
    pub fn new(url: &str) -> Result<ClickHouse, ClickHouseError> {
        let bad = |reason: &str| ClickHouseError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("expected http:// or https://"));
        }
        let http = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(STATEMENT_TIMEOUT)
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(ClickHouse { http, url: parsed })
    }

    /// Runs one statement that answers nothing (`CREATE`, `ALTER`).
    ///
    /// # Errors
    /// When ClickHouse is unreachable or refuses the statement.
    pub async fn execute(&self, statement: &str) -> Result<(), ClickHouseError> {
        self.post(None, statement.as_bytes().to_vec()).await?;
        Ok(())
    }

    /// Inserts `rows`, in `RowBinary` with `columns` (comma-separated) in their order, into
    /// `table`. ClickHouse takes one insert whole or not at all (up to its
    /// `max_insert_block_size` rows, far above what one write sends).
    ///
    /// # Errors
    /// When ClickHouse is unreachable or refuses a row.
    pub async fn insert(
        &self,
        table: &str,
        columns: &str,
        rows: Vec<u8>,
    ) -> Result<(), ClickHouseError> {
        let statement = format!("INSERT INTO {table} ({columns}) FORMAT RowBinary");
        self.post(Some(&statement), rows).await?;
        Ok(())
    }

    /// Runs `select` (without a `FORMAT`) and returns its rows; 64-bit integers come as
    /// numbers.
    ///
    /// # Errors
    /// When ClickHouse is unreachable, refuses the query, or answers something else than rows.
    pub async fn select(&self, select: &str) -> Result<Vec<Map<String, Value>>, ClickHouseError> {
        let body = self
            .post(None, format!("{select} FORMAT JSONEachRow").into_bytes())
            .await?;
        serde_json::Deserializer::from_slice(&body)
            .into_iter::<Map<String, Value>>()
            .collect::<Result<_, _>>()
            .map_err(|e| ClickHouseError::BadAnswer(e.to_string()))
    }

    /// Posts `body`, with `query` as the URL's statement when the body is data.
    async fn post(&self, query: Option<&str>, body: Vec<u8>) -> Result<Vec<u8>, ClickHouseError> {
        let mut url = self.url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            // Counts as numbers, as serde reads them (ClickHouse quotes 64-bit ones by default).
            pairs.append_pair("output_format_json_quote_64bit_integers", "0");
            if let Some(query) = query {
                pairs.append_pair("query", query);
            }
        }
        let answer = self
            .http
            .post(url)
            .body(body)
            .send()
            .await
            .map_err(|e| ClickHouseError::Unreachable(e.without_url().to_string()))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| ClickHouseError::Unreachable(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(ClickHouseError::Refused {
                status: status.as_u16(),
                message: String::from_utf8_lossy(&body).trim().to_owned(),
            });
        }
        Ok(body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_addresses_are_taken() {
        assert!(ClickHouse::new("http://127.0.0.1:8123/?database=qoe").is_ok());
        for bad in ["127.0.0.1:8123", "tcp://127.0.0.1:9000", "http//x", ""] {
            let error = ClickHouse::new(bad).err().expect(bad).to_string();
            assert!(
                error.contains("not a ClickHouse HTTP address"),
                "{bad}: {error}"
            );
        }
    }
}
