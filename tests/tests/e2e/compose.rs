//! docker-compose.yml cannot run here (no Docker engine), but it must parse and hold every
//! service the README promises, and each service's image must hold the binary it runs.

use mediadocs_tests::tools::repo_root;
use yaml_rust2::YamlLoader;

/// The services README.md lists in its docker-compose table.
fn services_named_in_readme() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## docker-compose.yml")
        .nth(1)
        .expect("README.md has a docker-compose.yml section");
    let section = section.split("\n## ").next().unwrap();
    // Table rows: | `service` | what |
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn compose_file_parses_and_has_every_service_the_readme_names() {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml is valid YAML");
    let services = docs[0]["services"].as_hash().expect("a services map");
    let present: Vec<&str> = services.keys().filter_map(|k| k.as_str()).collect();

    let named = services_named_in_readme();
    for required in [
        "postgres",
        "temporal",
        "temporal-ui",
        "minio",
        "api",
        "worker",
    ] {
        assert!(
            named.iter().any(|n| n == required),
            "README's compose section omits {required}"
        );
    }
    for service in &named {
        assert!(
            present.contains(&service.as_str()),
            "README names `{service}`, compose lacks it"
        );
    }
    for app in ["api", "worker"] {
        assert!(
            !docs[0]["services"][app]["build"].is_badvalue(),
            "{app} is built from the Dockerfile"
        );
    }
}

/// The development servers: never in the production image.
const DEV_SERVERS: [&str; 3] = [
    "mediadocs-dev-s3",
    "mediadocs-openai-simulator",
    "mediadocs-transcription-simulator",
];

/// The Dockerfile's stages as (name, text), continuation lines joined.
fn dockerfile_stages() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let mut stages: Vec<(String, String)> = Vec::new();
    for line in text.replace("\\\n", " ").lines() {
        if let Some(from) = line.strip_prefix("FROM ") {
            let name = from.split(" AS ").nth(1).unwrap_or_default().trim();
            stages.push((name.to_owned(), String::new()));
        } else if let Some((_, body)) = stages.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    stages
}

/// The binaries a stage's image holds: those the stages it copies from take out of
/// `target/release/`.
fn binaries_in(stages: &[(String, String)], stage: &str) -> Vec<String> {
    let (_, body) = stages
        .iter()
        .find(|(name, _)| name == stage)
        .unwrap_or_else(|| panic!("the Dockerfile has no stage {stage}"));
    body.split_whitespace()
        .filter_map(|word| word.strip_prefix("--from="))
        .flat_map(|source| {
            let (_, source_body) = stages
                .iter()
                .find(|(name, _)| name == source)
                .unwrap_or_else(|| panic!("the Dockerfile has no stage {source}"));
            source_body
                .split_whitespace()
                .filter_map(|word| word.strip_prefix("target/release/"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn each_service_runs_a_binary_its_image_holds_and_production_holds_no_dev_server() {
    let stages = dockerfile_stages();
    let production = &stages.last().expect("a Dockerfile stage").0;
    let production_binaries = binaries_in(&stages, production);
    for server in DEV_SERVERS {
        assert!(
            !production_binaries.iter().any(|b| b == server),
            "the production image ships {server}"
        );
    }
    assert!(
        production_binaries.iter().any(|b| b == "mediadocs"),
        "the production image lacks the operator CLI"
    );
    let dev_binaries = binaries_in(&stages, "dev-servers");
    for server in DEV_SERVERS {
        assert!(
            dev_binaries.iter().any(|b| b == server),
            "the dev-servers image lacks {server}"
        );
    }

    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml is valid YAML");
    for (service, target, binaries) in [
        ("api", production.as_str(), &production_binaries),
        ("worker", production.as_str(), &production_binaries),
        ("transcription-simulator", "dev-servers", &dev_binaries),
        ("openai-simulator", "dev-servers", &dev_binaries),
    ] {
        let spec = &docs[0]["services"][service];
        assert_eq!(
            spec["build"]["target"].as_str(),
            Some(target),
            "{service} builds the Dockerfile's {target} target"
        );
        let command = spec["command"][0].as_str().expect("a command");
        assert!(
            binaries.iter().any(|b| b == command),
            "{service} runs {command}, which its image lacks"
        );
    }
}
