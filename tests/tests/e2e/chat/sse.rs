//! A minimal reader of a `text/event-stream` response, as a browser's EventSource sees it.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `event:` and the JSON of its `data:` lines.
    Event(String, Value),
    /// A `:` comment line (keep-alive).
    Comment,
}

pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next frame, `None` when the stream ends; panics after 20 s of nothing.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(frame) = parse(&block) {
                    return Some(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("an SSE frame within 20 s")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.expect("the stream reads")).unwrap());
        }
    }

    /// The next event, skipping comments.
    pub async fn event(&mut self) -> Option<(String, Value)> {
        loop {
            match self.next().await? {
                Frame::Event(name, data) => return Some((name, data)),
                Frame::Comment => continue,
            }
        }
    }

    /// Every remaining event.
    pub async fn rest(&mut self) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        while let Some(event) = self.event().await {
            events.push(event);
        }
        events
    }
}

fn parse(block: &str) -> Option<Frame> {
    let (mut name, mut data) = (None, Vec::new());
    let mut comment = false;
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
        } else if line.starts_with(':') {
            comment = true;
        }
    }
    match name {
        Some(name) => Some(Frame::Event(
            name,
            serde_json::from_str(&data.join("\n")).expect("event data is JSON"),
        )),
        None if comment => Some(Frame::Comment),
        None => None,
    }
}
