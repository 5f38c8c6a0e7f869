//! The README's "Try the API by hand", run exactly as written: every `sh`
//! block of that section, in order, in one shell, with the `screenhub` this
//! build made first on the PATH. The only change: the ports 8080 and 8081
//! become free ones, so the run cannot collide with a hub already running.
//! It ends with the check completed in the simulated Ashby.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, without_callers_settings};

const SECTION: &str = "## Try the API by hand";

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap()
}

/// The `sh` blocks of the README's section, joined.
fn walkthrough(readme: &str) -> String {
    let start = readme.find(SECTION).expect("the README has the section");
    let rest = &readme[start + SECTION.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut script = String::new();
    for block in section.split("```sh\n").skip(1) {
        let end = block.find("```").expect("a closed block");
        script.push_str(&block[..end]);
    }
    assert!(script.contains("screenhub serve"), "{script}");
    script
}

#[test]
fn the_readme_walkthrough_runs_as_written_and_ends_with_a_completed_check() {
    let script = walkthrough(&readme())
        .replace("8080", &free_port().to_string())
        .replace("8081", &free_port().to_string());
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_screenhub")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut shell = Command::new("bash");
    shell
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    without_callers_settings(&mut shell);
    // Its own process group, so that whatever it started ends with it.
    std::os::unix::process::CommandExt::process_group(&mut shell, 0);
    let mut child = shell.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    let report = format!(
        "script:\n{script}\nstdout:\n{stdout}\nstderr:\n{}\nhub.log:\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    let last: serde_json::Value =
        serde_json::from_str(&stdout[stdout.rfind("{\n").expect("the final answer")..])
            .unwrap_or_else(|e| panic!("{e}: {report}"));
    assert_eq!(last["state"], "completed", "{report}");
    assert_eq!(last["status"], "Completed", "{report}");
    assert_eq!(last["result"], true, "{report}");
    assert_eq!(
        last["report"], "https://vendor.example/reports/1",
        "{report}"
    );
    assert!(!logs.contains('\u{1b}'), "no colour codes in hub.log");
}

/// The README's list of commands names every command `--help` lists.
#[test]
fn the_readme_names_every_command() {
    let readme = readme();
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_screenhub"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let commands = |text: &str| -> Vec<String> {
        text.split("Commands:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .filter(|c| c != "help")
            .collect()
    };
    for command in commands(&help(&[])) {
        let nested = commands(&help(&[&command]));
        if nested.is_empty() {
            let named = format!("screenhub {command}");
            assert!(readme.contains(&named), "the README names `{named}`");
        }
        for sub in nested {
            let named = format!("screenhub {command} {sub}");
            assert!(readme.contains(&named), "the README names `{named}`");
        }
    }
    for needed in [
        "cargo install --path crates/screenhub",
        "--ats-api-base-url",
        "--environment",
        "keys list [--json]",
    ] {
        assert!(readme.contains(needed), "the README says `{needed}`");
    }
}
