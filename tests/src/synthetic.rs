//! Synthetic passages for the retrieval benchmarks: clustered unit vectors and transcript-like
//! text, bulk-loaded with binary COPY and indexed once, after the load.

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// SplitMix64: deterministic, fast, good enough for benchmark data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly N(0, 1): the sum of four uniforms, rescaled (Irwin-Hall).
    pub fn normal(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * 1.732_050_8
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Unit vectors around `centroids`: each is a centroid plus Gaussian noise of `spread` per
/// dimension, so that neighbours are close but not identical, as sentences on one topic are.
pub struct Clusters {
    pub centroids: Vec<Vec<f32>>,
    pub spread: f32,
}

impl Clusters {
    pub fn random(rng: &mut Rng, count: usize, dimension: usize, spread: f32) -> Self {
        let centroids = (0..count)
            .map(|_| {
                let mut c: Vec<f32> = (0..dimension).map(|_| rng.normal()).collect();
                normalise(&mut c);
                c
            })
            .collect();
        Self { centroids, spread }
    }

    /// Around these vectors (real embeddings, say), mixed pairwise.
    pub fn around(seeds: Vec<Vec<f32>>, spread: f32) -> Self {
        Self {
            centroids: seeds,
            spread,
        }
    }

    pub fn sample(&self, rng: &mut Rng) -> Vec<f32> {
        let a = &self.centroids[rng.below(self.centroids.len())];
        let b = &self.centroids[rng.below(self.centroids.len())];
        let mix = 0.7 + 0.3 * rng.unit();
        let mut v: Vec<f32> = a
            .iter()
            .zip(b)
            .map(|(x, y)| mix * x + (1.0 - mix) * y + self.spread * rng.normal())
            .collect();
        normalise(&mut v);
        v
    }
}

/// Unit vectors like sentence embeddings: points of a Gaussian mixture in a low-dimensional
/// latent space (topics), projected into `dimension` by a fixed random matrix, plus a little
/// isotropic noise. Text embeddings have a low intrinsic dimension; uniformly random vectors
/// in 384 dimensions have none (every point nearly equidistant), and no approximate index,
/// nor any search, is meaningful on them.
pub struct Latent {
    centroids: Vec<Vec<f32>>,
    /// `dimension` rows of `latent` columns.
    projection: Vec<Vec<f32>>,
    spread: f32,
    noise: f32,
}

impl Latent {
    pub fn new(rng: &mut Rng, topics: usize, latent: usize, dimension: usize) -> Self {
        let mut gaussian = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.normal()).collect() };
        Self {
            centroids: (0..topics).map(|_| gaussian(latent)).collect(),
            projection: (0..dimension).map(|_| gaussian(latent)).collect(),
            spread: 0.5,
            noise: 0.3,
        }
    }

    pub fn sample(&self, rng: &mut Rng) -> Vec<f32> {
        let centroid = &self.centroids[rng.below(self.centroids.len())];
        let z: Vec<f32> = centroid
            .iter()
            .map(|c| c + self.spread * rng.normal())
            .collect();
        let mut v: Vec<f32> = self
            .projection
            .iter()
            .map(|row| {
                row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + self.noise * rng.normal()
            })
            .collect();
        normalise(&mut v);
        v
    }
}

const WORDS: [&str; 48] = [
    "upload",
    "pipeline",
    "release",
    "customer",
    "invoice",
    "billing",
    "search",
    "editor",
    "deploy",
    "review",
    "budget",
    "roadmap",
    "migration",
    "replica",
    "outage",
    "ticket",
    "support",
    "hiring",
    "interview",
    "design",
    "mobile",
    "android",
    "screen",
    "export",
    "report",
    "dashboard",
    "currency",
    "meeting",
    "quarter",
    "priority",
    "security",
    "password",
    "marketing",
    "newsletter",
    "campaign",
    "office",
    "kitchen",
    "coffee",
    "vendor",
    "laptop",
    "contract",
    "renewal",
    "discount",
    "latency",
    "cluster",
    "container",
    "backup",
    "webhook",
];

/// About `words` words of meeting talk.
pub fn text(rng: &mut Rng, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i % 12 == 0 && i > 0 {
            out.push_str(". ");
        } else if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len())]);
    }
    out.push('.');
    out
}

/// One passage row for [`copy_passages`].
pub struct Row<'a> {
    pub org: Uuid,
    pub recording: Uuid,
    pub idx: i32,
    pub text: &'a str,
    pub embedding: &'a [f32],
}

/// Binary COPY into `passages` (model all-MiniLM-L6-v2). Rows come from `rows` until it
/// returns `None`; sent in chunks of a few MB.
pub async fn copy_passages(
    conn: &mut PgConnection,
    mut rows: impl FnMut(&mut Vec<u8>) -> Option<()>,
) -> sqlx::Result<u64> {
    let mut copy = conn
        .copy_in_raw(
            "COPY passages (org_id, recording_id, idx, first_segment, last_segment, start_ms,
                            end_ms, text, tokens, model, dimension, embedding)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut buf = Vec::with_capacity(8 << 20);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    while rows(&mut buf).is_some() {
        if buf.len() > 4 << 20 {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(8 << 20);
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    copy.finish().await
}

/// Appends one row in COPY's binary tuple format.
pub fn encode(buf: &mut Vec<u8>, row: &Row<'_>) {
    fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
        buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        buf.extend_from_slice(bytes);
    }
    let ms = i64::from(row.idx) * 30_000;
    buf.extend_from_slice(&12i16.to_be_bytes());
    field(buf, row.org.as_bytes());
    field(buf, row.recording.as_bytes());
    field(buf, &row.idx.to_be_bytes());
    field(buf, &row.idx.to_be_bytes());
    field(buf, &row.idx.to_be_bytes());
    field(buf, &ms.to_be_bytes());
    field(buf, &(ms + 29_000).to_be_bytes());
    field(buf, row.text.as_bytes());
    field(buf, &((row.text.len() / 4) as i32).to_be_bytes());
    field(buf, b"all-MiniLM-L6-v2");
    field(buf, &(row.embedding.len() as i32).to_be_bytes());
    // pgvector's binary form: dimensions (int16), unused (int16), then float4s.
    let mut vector = Vec::with_capacity(4 + 4 * row.embedding.len());
    vector.extend_from_slice(&(row.embedding.len() as i16).to_be_bytes());
    vector.extend_from_slice(&0i16.to_be_bytes());
    for x in row.embedding {
        vector.extend_from_slice(&x.to_be_bytes());
    }
    field(buf, &vector);
}

/// Drops the passage indexes that a bulk load would otherwise maintain row by row.
pub async fn drop_search_indexes(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("DROP INDEX IF EXISTS passages_minilm_hnsw")
        .execute(&mut *conn)
        .await?;
    sqlx::query("DROP INDEX IF EXISTS passages_tsv")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Builds them again, as the passages migration defines them, with the memory and workers
/// a one-off build deserves. Returns the seconds it took.
pub async fn build_search_indexes(conn: &mut PgConnection) -> sqlx::Result<f64> {
    let started = std::time::Instant::now();
    let mut tx = conn.begin().await?;
    for setting in [
        "SET LOCAL maintenance_work_mem = '8GB'",
        "SET LOCAL max_parallel_maintenance_workers = 2",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    sqlx::query(
        "CREATE INDEX passages_minilm_hnsw ON passages
             USING hnsw ((embedding::vector(384)) vector_cosine_ops)
             WHERE model = 'all-MiniLM-L6-v2'",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("CREATE INDEX passages_tsv ON passages USING gin (tsv)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sqlx::query("VACUUM ANALYZE passages")
        .execute(&mut *conn)
        .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// `count` recordings of `org`, as fixtures, for passages to belong to.
pub async fn recordings(
    conn: &mut PgConnection,
    org: Uuid,
    count: usize,
) -> sqlx::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "INSERT INTO recordings (id, org_id, title, filename, content_type, size_bytes, status,
             s3_key, part_size, part_count, upload_expires_at)
         SELECT id, $2, 'Synthetic ' || n, 'sync.webm', 'video/webm', 1000, 'completed',
                'orgs/' || $2 || '/recordings/' || id || '/source.webm', 1000, 1, now()
         FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)",
    )
    .bind(&ids)
    .bind(org)
    .execute(&mut *conn)
    .await?;
    Ok(ids)
}
