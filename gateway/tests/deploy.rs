//! Deployment artefacts (deploy/): every YAML file parses; the configuration shipped in the
//! Kubernetes ConfigMap compiles (`certgate check`) with a PKI laid out as the Secret names it;
//! the Deployment mounts every file that configuration references; the systemd unit keeps its
//! hardening. (The Grafana dashboard is checked against a live gateway in e2e.rs.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use certgate::{execute, Cli, Command};
use certgate_policy::pki::{DemoPki, KeyKind};
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every document of a YAML file (documents separated by `---` lines).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---\n")
        .map(|doc| {
            serde_saphyr::from_str::<Value>(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn manifests() -> Vec<(String, Value)> {
    let dir = deploy().join("kubernetes");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            for doc in documents(&path) {
                out.push((path.file_name().unwrap().to_string_lossy().into(), doc));
            }
        }
    }
    out
}

fn kind<'a>(all: &'a [(String, Value)], kind: &str) -> &'a Value {
    &all.iter()
        .find(|(_, d)| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} manifest"))
        .1
}

#[test]
fn every_yaml_artefact_parses_and_kustomize_lists_every_manifest() {
    let all = manifests();
    for want in [
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "Kustomization",
    ] {
        kind(&all, want);
    }
    let listed: BTreeSet<String> = kind(&all, "Kustomization")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let files: BTreeSet<String> = all
        .iter()
        .map(|(f, _)| f.clone())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files);
    let prom = documents(&deploy().join("prometheus/prometheus.yml"));
    assert_eq!(prom[0]["scrape_configs"][0]["metrics_path"], "/metrics");
}

#[test]
fn kubernetes_configuration_compiles_with_the_files_the_secret_provides() {
    let all = manifests();
    let config_map = &kind(&all, "ConfigMap")["data"];
    let deployment = kind(&all, "Deployment");
    let secret_keys: BTreeSet<&str> = kind(&all, "Secret")["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mount = |name: &str| -> String {
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["mountPath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Lay the files out as the pod sees them: ConfigMap items under the config mount, the
    // Secret (here: a demo PKI with the same file names) under its mount.
    let root = tempfile::tempdir().unwrap();
    let config_mount = mount("config");
    let at = |p: &str| root.path().join(p.trim_start_matches('/'));
    let config_volume = volumes.iter().find(|v| v["name"] == "config").unwrap();
    for item in config_volume["configMap"]["items"].as_array().unwrap() {
        let path = at(&format!(
            "{config_mount}/{}",
            item["path"].as_str().unwrap()
        ));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = config_map[item["key"].as_str().unwrap()].as_str().unwrap();
        std::fs::write(path, text).unwrap();
    }
    let tls = at(&mount("tls"));
    DemoPki::generate(KeyKind::EcdsaP256)
        .unwrap()
        .write(&tls, "unused")
        .unwrap();
    let config_path = at(&format!("{config_mount}/certgate.yaml"));
    let out = execute(Cli {
        command: Command::Check {
            config: config_path.clone(),
        },
    });
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("orders"), "{}", out.stdout);
    // Every tls/ file the configuration names is a key of the Secret.
    let config = std::fs::read_to_string(&config_path).unwrap();
    let mut named = BTreeSet::new();
    for part in config.split("tls/").skip(1) {
        let file: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
            .collect();
        named.insert(file);
    }
    assert!(named.len() >= 8, "{named:?}");
    for f in &named {
        assert!(secret_keys.contains(f.as_str()), "Secret lacks {f}");
    }
    // Probes use the admin endpoints; the container runs unprivileged and read-only.
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(config.contains("address: 0.0.0.0:9901"));
}

#[test]
fn systemd_unit_is_hardened() {
    let unit = std::fs::read_to_string(deploy().join("systemd/certgate.service")).unwrap();
    for line in [
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadOnlyPaths=/etc/certgate",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "RuntimeDirectory=certgate",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=certgate",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let container = std::fs::read_to_string(deploy().join("container/Containerfile")).unwrap();
    assert!(container.contains("USER 65532:65532"));
    assert_eq!(
        container.matches("\nFROM ").count() + usize::from(container.starts_with("FROM ")),
        2
    );
}

/// The optional Redis (deploy/kubernetes/redis): its manifests parse, its kustomization lists
/// them, only certgate pods reach it, and the configuration the ConfigMap shows commented out
/// names its Service.
#[test]
fn the_optional_redis_is_reachable_only_by_certgate_and_named_by_the_config() {
    let dir = deploy().join("kubernetes/redis");
    let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
    assert_eq!(kustomization["resources"][0], "redis.yaml");
    let docs = documents(&dir.join("redis.yaml"));
    let of = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap();
    let service = of("Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 6379);
    let policy = of("NetworkPolicy");
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
            ["app.kubernetes.io/name"],
        "certgate"
    );
    let args = of("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(args.contains(&"--maxmemory".to_string()), "{args:?}");
    let config_map = std::fs::read_to_string(deploy().join("kubernetes/configmap.yaml")).unwrap();
    let name = service["metadata"]["name"].as_str().unwrap();
    assert!(config_map.contains(&format!("url: redis://{name}:6379")));
}
