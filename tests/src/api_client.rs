//! Typed calls to the API for the tests: the requests a recording app makes, each checked
//! for the answer it must give, so tests say what they do instead of building JSON chains.

use std::{collections::BTreeMap, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, app::Account, wait};

/// What `POST /api/recordings` answered: the recording and its upload plan.
pub struct Created {
    pub id: String,
    pub body: Value,
}

impl Created {
    /// The presigned URLs of the first batch of parts, by part number.
    pub fn part_urls(&self) -> BTreeMap<u32, String> {
        part_urls(&self.body["upload"]["parts"])
    }
}

/// Part URLs by part number, from an answer's `parts` list.
pub fn part_urls(parts: &Value) -> BTreeMap<u32, String> {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["part_number"].as_u64().expect("a part number") as u32,
                p["url"].as_str().expect("a part URL").to_owned(),
            )
        })
        .collect()
}

/// A status and the JSON body (or `null`) of an answer.
pub async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

impl TestApp {
    /// `POST /api/recordings` with `body` as it is, for tests of bad input.
    pub async fn create_recording_with(&self, who: &Account, body: &Value) -> reqwest::Response {
        self.authed(Method::POST, "/api/recordings", who.token())
            .json(body)
            .send()
            .await
            .expect("POST /api/recordings reaches the API")
    }

    /// Creates a recording of `size` bytes; it must be accepted (201).
    #[track_caller]
    pub fn create_recording<'a>(
        &'a self,
        who: &'a Account,
        filename: &str,
        content_type: &str,
        size: usize,
    ) -> impl Future<Output = Created> + 'a {
        let caller = std::panic::Location::caller();
        let body = json!({"filename": filename, "content_type": content_type, "size_bytes": size});
        async move {
            let (status, body) = json_of(self.create_recording_with(who, &body).await).await;
            assert_eq!(status, 201, "creating a recording at {caller}: {body}");
            let id = body["recording"]["id"]
                .as_str()
                .expect("a recording ID")
                .to_owned();
            Created { id, body }
        }
    }

    /// `POST …/upload/complete` with `(part number, ETag)` pairs.
    pub async fn complete_upload<N: serde::Serialize>(
        &self,
        who: &Account,
        id: &str,
        parts: &[(N, String)],
    ) -> (StatusCode, Value) {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(n, etag)| json!({"part_number": n, "etag": etag}))
            .collect();
        let path = format!("/api/recordings/{id}/upload/complete");
        json_of(
            self.authed(Method::POST, &path, who.token())
                .json(&json!({"parts": parts}))
                .send()
                .await
                .expect("POST complete reaches the API"),
        )
        .await
    }

    /// `GET /api/recordings/{id}`; the recording must be there (200).
    #[track_caller]
    pub fn recording<'a>(&'a self, who: &'a Account, id: &str) -> impl Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        let path = format!("/api/recordings/{id}");
        async move {
            let response = self.authed(Method::GET, &path, who.token()).send().await;
            let (status, body) = json_of(response.expect("GET reaches the API")).await;
            assert_eq!(status, 200, "reading {path} at {caller}: {body}");
            body
        }
    }

    /// Reads the recording until its status is `status`, and returns it; panics after
    /// `timeout`, saying which status it was waiting for.
    #[track_caller]
    pub fn wait_for_status<'a>(
        &'a self,
        who: &'a Account,
        id: &'a str,
        status: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Value> + 'a {
        let what = format!("recording {id} to become {status}");
        let path = format!("/api/recordings/{id}");
        let caller = std::panic::Location::caller();
        async move {
            let path = &path;
            let probe = || async move {
                let response = self
                    .authed(Method::GET, path, who.token())
                    .send()
                    .await
                    .ok()?;
                let body: Value = response.json().await.ok()?;
                (body["status"] == status).then_some(body)
            };
            match wait::try_until(timeout, probe).await {
                Some(recording) => recording,
                None => panic!("timed out after {timeout:?} waiting for {what} (at {caller})"),
            }
        }
    }

    /// `DELETE /api/recordings/{id}`: the answer's status.
    pub async fn delete_recording(&self, who: &Account, id: &str) -> StatusCode {
        self.authed(
            Method::DELETE,
            &format!("/api/recordings/{id}"),
            who.token(),
        )
        .send()
        .await
        .expect("DELETE reaches the API")
        .status()
    }
}
