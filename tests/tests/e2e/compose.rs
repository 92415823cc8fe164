//! docker-compose.yml cannot run here (no Docker engine), but it must parse and hold every
//! service the README promises.

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
