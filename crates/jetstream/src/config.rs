//! `[log]` in openqoe.toml: the JetStream stream that replaces the embedded write-ahead log
//! between collectors and sessionizers.
use serde::Deserialize;

/// `[log]`: where collectors put batches and sessionizer workers take them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// NATS server URL, e.g. `nats://127.0.0.1:4222` (several, comma-separated, for a cluster).
    pub nats: String,
    /// The stream's name; made with the settings below when it does not exist.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Partitions (subjects `oq.events.0` … `oq.events.<partitions - 1>`). Fixed for the
    /// stream's life: a view's partition is a hash of its id modulo this.
    #[serde(default = "default_partitions")]
    pub partitions: u16,
    /// Copies of the stream in a JetStream cluster (1 on one server, 3 in production).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Seconds within which JetStream stores a repeated publish of one batch once.
    #[serde(default = "default_duplicate_window_seconds")]
    pub duplicate_window_seconds: u64,
    /// Hours the stream keeps a batch after it was published (consumers must take it within
    /// them; a worker rebuilt from nothing can replay them).
    #[serde(default = "default_max_age_hours")]
    pub max_age_hours: u64,
    /// Seconds JetStream waits for a worker's ack before it delivers a batch again (a worker
    /// that died holding it): how long such batches wait after a restart.
    #[serde(default = "default_ack_wait_seconds")]
    pub ack_wait_seconds: u64,
    /// Partitions this process's sessionizer takes (every partition when absent). Each
    /// partition must be taken by exactly one sessionizer.
    #[serde(default)]
    pub own_partitions: Option<Vec<u16>>,
}

fn default_stream() -> String {
    "OPENQOE_EVENTS".into()
}

fn default_partitions() -> u16 {
    16
}

fn default_replicas() -> usize {
    1
}

fn default_duplicate_window_seconds() -> u64 {
    120
}

fn default_max_age_hours() -> u64 {
    72
}

fn default_ack_wait_seconds() -> u64 {
    30
}

impl LogConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// The first setting out of range, and why.
    pub fn check(&self) -> Result<(), String> {
        if self.nats.trim().is_empty() {
            return Err("[log] nats: expected a NATS URL such as nats://127.0.0.1:4222".into());
        }
        let name_ok = !self.stream.is_empty()
            && self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(format!(
                "[log] stream = {:?}: expected letters, digits, _ and - only",
                self.stream
            ));
        }
        if !(1..=1024).contains(&self.partitions) {
            return Err(format!(
                "[log] partitions = {}: expected 1 to 1024",
                self.partitions
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(format!(
                "[log] replicas = {}: expected 1 to 5",
                self.replicas
            ));
        }
        if self.duplicate_window_seconds == 0
            || self.max_age_hours == 0
            || self.ack_wait_seconds == 0
        {
            return Err(
                "[log] duplicate_window_seconds, max_age_hours, ack_wait_seconds: expected more than 0"
                    .into(),
            );
        }
        if self.duplicate_window_seconds > self.max_age_hours * 3_600 {
            return Err("[log] duplicate_window_seconds: expected at most max_age_hours".into());
        }
        if let Some(own) = &self.own_partitions {
            if let Some(bad) = own.iter().find(|p| **p >= self.partitions) {
                return Err(format!(
                    "[log] own_partitions: {bad} is not a partition (0 to {})",
                    self.partitions - 1
                ));
            }
        }
        Ok(())
    }

    /// The partitions this process's sessionizer takes, in order, without repeats.
    pub fn owned(&self) -> Vec<u16> {
        let mut owned = match &self.own_partitions {
            Some(own) => own.clone(),
            None => (0..self.partitions).collect(),
        };
        owned.sort_unstable();
        owned.dedup();
        owned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> LogConfig {
        toml::from_str(toml_text).expect(toml_text)
    }

    #[test]
    fn defaults_and_ranges() {
        let config = parse(r#"nats = "nats://127.0.0.1:4222""#);
        assert_eq!(config.check(), Ok(()));
        assert_eq!(
            (config.stream.as_str(), config.partitions),
            ("OPENQOE_EVENTS", 16)
        );
        assert_eq!(config.owned(), (0..16).collect::<Vec<_>>());
        // (setting, what the refusal names)
        let refused = [
            ("nats = \" \"", "nats"),
            ("nats = \"n\"\nstream = \"a.b\"", "stream"),
            ("nats = \"n\"\npartitions = 0", "partitions"),
            ("nats = \"n\"\nreplicas = 7", "replicas"),
            ("nats = \"n\"\nmax_age_hours = 0", "max_age_hours"),
            (
                "nats = \"n\"\nown_partitions = [3, 16]",
                "16 is not a partition",
            ),
        ];
        for (text, names) in refused {
            let refusal = parse(text).check().expect_err(text);
            assert!(refusal.contains(names), "{text}: {refusal}");
        }
        let own = parse("nats = \"n\"\npartitions = 4\nown_partitions = [3, 1, 3]");
        assert_eq!(own.owned(), vec![1, 3]);
    }
}
