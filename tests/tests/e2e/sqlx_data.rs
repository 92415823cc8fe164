//! The committed `.sqlx/` data, which the store's query macros check its SQL against at
//! compile time, must describe the schema the migrations make: otherwise a migration could
//! change a column the store reads and the build would not notice.

use sqlx::{Executor, SqlSafeStr};

#[tokio::test(flavor = "multi_thread")]
async fn the_committed_query_data_matches_the_migrated_schema() {
    let ctx = mediadocs_tests::TestContext::new().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.sqlx");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("the workspace has a .sqlx directory") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let data: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let query = data["query"].as_str().expect("a query");
        let described = (&ctx.owner_pool)
            .describe(sqlx::AssertSqlSafe(query).into_sql_str())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{query}", path.display()));
        assert_eq!(
            serde_json::to_value(&described).unwrap(),
            data["describe"],
            "{} is stale: run scripts/sqlx-prepare\n{query}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} query files in {}",
        dir.display()
    );
}
