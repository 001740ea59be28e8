//! The steering manifest (HLS "steering manifest", DASH "DCSM"; §5.3): `VERSION` 1, `TTL`,
//! optional `RELOAD-URI`, `PATHWAY-PRIORITY`, optional `PATHWAY-CLONES`. Built valid, read back
//! with the validation players apply (CML `isValidSteeringManifest`), errors naming the field.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::query::is_pathway_id;

/// Players reload after this many seconds when a manifest says nothing else (CML DEFAULT_TTL).
pub const DEFAULT_TTL_S: u32 = 300;

/// How a clone's URIs differ from its base pathway's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UriReplacement {
    /// New host (all players).
    #[serde(rename = "HOST", skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Query parameters added (hls.js, dash.js).
    #[serde(rename = "PARAMS", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Whole URIs by `STABLE-VARIANT-ID` (HLS, hls.js).
    #[serde(
        rename = "PER-VARIANT-URIS",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub per_variant_uris: BTreeMap<String, String>,
    /// Whole URIs by `STABLE-RENDITION-ID` (HLS, hls.js).
    #[serde(
        rename = "PER-RENDITION-URIS",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub per_rendition_uris: BTreeMap<String, String>,
}

/// A pathway made from another by replacing its host or parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathwayClone {
    /// The pathway cloned.
    #[serde(rename = "BASE-ID")]
    pub base_id: String,
    /// The new pathway's id.
    #[serde(rename = "ID")]
    pub id: String,
    /// What changes.
    #[serde(rename = "URI-REPLACEMENT")]
    pub uri_replacement: UriReplacement,
}

/// A steering manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SteeringManifest {
    /// Seconds until the player polls again.
    #[serde(rename = "TTL")]
    pub ttl_s: u32,
    /// Where to poll next (carries the session's state, so any instance can answer).
    #[serde(rename = "RELOAD-URI", skip_serializing_if = "Option::is_none")]
    pub reload_uri: Option<String>,
    /// Pathways, preferred first.
    #[serde(rename = "PATHWAY-PRIORITY")]
    pub pathway_priority: Vec<String>,
    /// Pathways made from others.
    #[serde(rename = "PATHWAY-CLONES", skip_serializing_if = "Vec::is_empty")]
    pub pathway_clones: Vec<PathwayClone>,
}

impl SteeringManifest {
    /// Checks the rules players apply; the first broken one is named.
    pub fn validate(&self) -> Result<(), String> {
        if self.ttl_s == 0 {
            return Err("TTL: expected a number of seconds above 0".into());
        }
        if self.pathway_priority.is_empty() {
            return Err("PATHWAY-PRIORITY: expected at least one pathway".into());
        }
        for (i, id) in self.pathway_priority.iter().enumerate() {
            if !is_pathway_id(id) {
                return Err(format!("PATHWAY-PRIORITY[{i}]: {id:?} is not a pathway id"));
            }
            if self.pathway_priority[..i].contains(id) {
                return Err(format!("PATHWAY-PRIORITY[{i}]: {id:?} is listed twice"));
            }
        }
        for (i, clone) in self.pathway_clones.iter().enumerate() {
            for (field, id) in [("ID", &clone.id), ("BASE-ID", &clone.base_id)] {
                if !is_pathway_id(id) {
                    return Err(format!(
                        "PATHWAY-CLONES[{i}].{field}: {id:?} is not a pathway id"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The manifest as JSON, with `VERSION` 1.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("VERSION".into(), Value::from(1));
        if let Value::Object(fields) = serde_json::to_value(self).unwrap_or_default() {
            body.extend(fields);
        }
        Value::Object(body)
    }

    /// Reads a manifest as a player would: `VERSION` must be 1, `TTL` defaults to 300 s, and the
    /// rules of [`SteeringManifest::validate`] hold.
    pub fn parse(text: &str) -> Result<SteeringManifest, String> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "VERSION")]
            version: Value,
            #[serde(rename = "TTL")]
            ttl: Option<f64>,
            #[serde(rename = "RELOAD-URI")]
            reload_uri: Option<String>,
            #[serde(rename = "PATHWAY-PRIORITY")]
            pathway_priority: Option<Vec<String>>,
            #[serde(rename = "PATHWAY-CLONES", default)]
            pathway_clones: Vec<PathwayClone>,
        }
        let wire: Wire =
            serde_json::from_str(text).map_err(|e| format!("not a steering manifest: {e}"))?;
        if wire.version.as_u64() != Some(1) {
            return Err(format!("VERSION: expected 1, got {}", wire.version));
        }
        let ttl_s = match wire.ttl {
            None => DEFAULT_TTL_S,
            Some(t) if t.is_finite() && t > 0.0 && t <= f64::from(u32::MAX) => t.ceil() as u32,
            Some(t) => {
                return Err(format!(
                    "TTL: expected a number of seconds above 0, got {t}"
                ))
            }
        };
        let manifest = SteeringManifest {
            ttl_s,
            reload_uri: wire.reload_uri,
            pathway_priority: wire.pathway_priority.ok_or("PATHWAY-PRIORITY: missing")?,
            pathway_clones: wire.pathway_clones,
        };
        manifest.validate()?;
        Ok(manifest)
    }
}
