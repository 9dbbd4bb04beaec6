//! The UI's stylesheets and scripts, compiled into the binary so the server needs no files
//! beside it. Served without a session: they hold no data. The names carry no version, so
//! browsers revalidate (`no-cache`) and an unchanged file costs a `304` thanks to its ETag.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use sha2::{Digest, Sha256};

use crate::AppState;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: CSS,
        body: include_str!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../../static/app.js"),
    },
    Asset {
        name: "form.css",
        content_type: CSS,
        body: include_str!("../../static/form.css"),
    },
    Asset {
        name: "form.js",
        content_type: JS,
        body: include_str!("../../static/form.js"),
    },
    Asset {
        name: "exports.css",
        content_type: CSS,
        body: include_str!("../../static/exports.css"),
    },
    Asset {
        name: "exports.js",
        content_type: JS,
        body: include_str!("../../static/exports.js"),
    },
    Asset {
        name: "imports.css",
        content_type: CSS,
        body: include_str!("../../static/imports.css"),
    },
    Asset {
        name: "imports.js",
        content_type: JS,
        body: include_str!("../../static/imports.js"),
    },
];

pub(crate) fn handler() -> MethodRouter<AppState> {
    get(serve)
}

fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body.as_bytes());
                format!("\"{}\"", hex::encode(&digest[..12]))
            })
            .collect()
    })
}

async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let etag = &etags()[index];
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
    ];
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag);
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_name_and_a_body() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.trim().is_empty(), "{}", a.name);
            assert!(
                ASSETS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
        assert_eq!(etags().len(), ASSETS.len());
    }
}
