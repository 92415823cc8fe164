//! The API, served in-process on a free port.

use mediadocs_api::{ApiSettings, AppState};

use crate::TestContext;

pub struct TestApp {
    pub base_url: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(ctx: &TestContext) -> Self {
        Self::spawn_with(ctx, ctx.api_settings(), ctx.pool.clone()).await
    }

    /// Serves the API with `settings` and `pool`, for tests that point it somewhere else.
    pub async fn spawn_with(ctx: &TestContext, settings: ApiSettings, pool: sqlx::PgPool) -> Self {
        let listener = tokio::net::TcpListener::bind(settings.addr)
            .await
            .expect("binding the API");
        let base_url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let state = AppState {
            pool,
            temporal: ctx.temporal.clone(),
            s3: mediadocs_config::connect::s3(&settings.s3),
            settings: settings.into(),
        };
        let server = tokio::spawn(async move {
            axum::serve(listener, mediadocs_api::app(state))
                .await
                .expect("serving the API");
        });
        Self {
            base_url,
            http: reqwest::Client::new(),
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the API")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST reaches the API")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
