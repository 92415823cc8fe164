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
        Self::spawn_on(settings, pool, ctx.temporal.clone()).await
    }

    /// Serves the API against a Temporal client of the test's choosing (a server it stops).
    pub async fn spawn_on(
        settings: ApiSettings,
        pool: sqlx::PgPool,
        temporal: temporalio_client::Client,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(settings.addr)
            .await
            .expect("binding the API");
        let base_url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let s3 = mediadocs_store::connect::s3(&settings.s3);
        let state = AppState::new(pool, temporal, s3, settings);
        let app =
            mediadocs_api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serving the API");
        });
        Self {
            base_url,
            http: reqwest::Client::new(),
            server,
        }
    }

    /// Uploads `bytes` as one part through the real presigned flow (create, PUT to S3,
    /// complete), which starts the recording's pipeline. Returns the recording ID.
    pub async fn upload(
        &self,
        who: &Account,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> String {
        let created = self
            .create_recording(who, filename, content_type, bytes.len())
            .await;
        let urls = created.part_urls();
        assert_eq!(urls.len(), 1, "one part");
        let put = self
            .http
            .put(&urls[&1])
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT to S3");
        assert_eq!(put.status(), 200, "S3 took the part");
        let etag = put.headers()["etag"].to_str().expect("an ETag").to_owned();
        let (status, done) = self.complete_upload(who, &created.id, &[(1, etag)]).await;
        assert_eq!(status, 200, "the upload completes: {done}");
        created.id
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

    /// POSTs `body` as JSON. The body is serialised before this returns, so the future
    /// borrows nothing.
    pub fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> impl std::future::Future<Output = reqwest::Response> + use<> {
        let request = self.http.post(self.url(path)).json(body);
        async move { request.send().await.expect("POST reaches the API") }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A registered account: its email, password and the session `register` returned.
pub struct Account {
    pub email: String,
    pub password: String,
    pub session: serde_json::Value,
}

impl Account {
    pub fn token(&self) -> &str {
        self.session["access_token"]
            .as_str()
            .expect("an access token")
    }

    pub fn org_id(&self) -> uuid::Uuid {
        self.session["org_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an org id")
    }

    pub fn user_id(&self) -> uuid::Uuid {
        self.session["user_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a user id")
    }
}

impl TestApp {
    /// Registers `email` (with its own new org) and returns the account.
    #[track_caller]
    pub fn register(&self, email: &str) -> impl std::future::Future<Output = Account> + '_ {
        let caller = std::panic::Location::caller();
        let email = email.to_owned();
        async move {
            let password = format!("pw-{email}-long-enough");
            let response = self
                .post_json(
                    "/api/auth/register",
                    &serde_json::json!({"email": email, "password": password}),
                )
                .await;
            let status = response.status();
            let session: serde_json::Value = response.json().await.expect("a JSON body");
            assert_eq!(status, 201, "registering {email} at {caller}: {session}");
            Account {
                email,
                password,
                session,
            }
        }
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }
}
