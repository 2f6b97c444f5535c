//! Keeps `docs/formats.md` honest: its test vectors are computed here and must appear in
//! the document verbatim.

#[cfg(test)]
mod tests {
    use crate::crockford;
    use crate::keys::MasterKey;

    const FORMATS: &str = include_str!("../../../docs/formats.md");

    #[test]
    fn device_key_vector_in_docs() {
        let key = MasterKey::from_bytes(1, [0x42; 32]).device_key("IPC4K15-000001");
        assert!(FORMATS.contains(&format!("master key  {}", "42".repeat(32))));
        assert!(FORMATS.contains("serial      IPC4K15-000001"));
        assert!(
            FORMATS.contains(&format!("device key  {}", key.to_hex())),
            "docs/formats.md has a stale device-key vector"
        );
    }

    #[test]
    fn crockford_vector_in_docs() {
        let bytes = [0xff, 0x00, 0x5a, 0x11, 0x22];
        let text = crockford::encode_grouped(&bytes, 4);
        assert!(FORMATS.contains(&format!("bytes `ff 00 5a 11 22` ↔ `{text}`")));
        for typed in ["zw05 m492", "ZWO5-M492"] {
            assert!(FORMATS.contains(typed));
            assert_eq!(crockford::decode_typed(typed, 64).unwrap(), bytes);
        }
    }
}

#[cfg(test)]
mod protocol {
    use crate::challenge::{self, Challenge, Recovery};
    use crate::code;
    use crate::keys::MasterKey;

    const PROTOCOL: &str = include_str!("../../../docs/protocol.md");

    /// The challenge of the vector in docs/protocol.md.
    pub fn vector(recovery: Recovery) -> (MasterKey, Challenge) {
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let c = Challenge {
            key_version: 1,
            serial: "IPC4K15-000001".into(),
            nonce: [7; 12],
            created_unix: 1_790_000_000,
            clock_trusted: true,
            counter: 1,
            recovery,
        };
        (master, c)
    }

    #[test]
    fn challenge_and_code_vectors_in_docs() {
        let (master, c) = vector(Recovery::Owner("owner@example.com".into()));
        let key = master.device_key(&c.serial);
        let text = c.seal(&key).unwrap();
        let (_, d) = vector(Recovery::FactoryDefault);
        let text_default = d.seal(&key).unwrap();
        let now = code::issue(&key, &c, 1_790_000_000_000, 1_790_000_000_000)
            .unwrap()
            .text();
        let later = code::issue(&key, &c, 1_790_259_200_000, 1_790_000_000_000)
            .unwrap()
            .text();
        println!("{text}\n{text_default}\n{now}\n{later}");
        for v in [&text, &text_default, &now, &later] {
            assert!(
                PROTOCOL.contains(v.as_str()),
                "docs/protocol.md lacks or has a stale vector: {v}"
            );
        }
        assert_eq!(challenge::open_with_master(&[master], &text).unwrap(), c);
    }
}

/// Keeps each crate's map honest: the `//!` docs of every crate root (`lib.rs`, `main.rs`)
/// and of every module file with a `# Layout` section name each module declared there.
#[cfg(test)]
mod layout {
    use std::path::{Path, PathBuf};

    /// The modules a file declares at its top level (`mod x;`, `pub mod x;`,
    /// `pub(crate) mod x;`; not inline `mod x { … }`).
    fn declared_modules(source: &str) -> Vec<String> {
        source
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("pub ").unwrap_or(line);
                let rest = match rest.strip_prefix("pub(") {
                    Some(r) => r.split_once(") ")?.1,
                    None => rest,
                };
                let name = rest.strip_prefix("mod ")?.strip_suffix(';')?;
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    .then(|| name.to_string())
            })
            .collect()
    }

    /// The file's inner doc comments (`//!`), joined.
    fn inner_docs(source: &str) -> String {
        source
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn declared_modules_are_parsed() {
        let source = "//! x\n#[cfg(feature = \"gpio\")]\npub mod gpio;\nmod data;\n\
                      pub(crate) mod inner;\nmod tests {\n    mod nested;\n}\n// mod no;\n";
        assert_eq!(declared_modules(source), ["gpio", "data", "inner"]);
    }

    #[test]
    fn every_crate_layout_names_every_module() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut checked = 0;
        let mut missing = Vec::new();
        let mut crate_dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
            .expect("crates/ is readable")
            .flatten()
            .map(|e| e.path().join("src"))
            .filter(|src| src.is_dir())
            .collect();
        crate_dirs.sort();
        assert!(
            crate_dirs.len() >= 8,
            "expected every crate under {crates:?}"
        );
        for src in crate_dirs {
            let mut files = Vec::new();
            rust_files(&src, &mut files);
            files.sort();
            for file in files {
                let source = std::fs::read_to_string(&file).expect("source is readable");
                let docs = inner_docs(&source);
                let root = file.parent() == Some(src.as_path())
                    && file
                        .file_name()
                        .is_some_and(|n| n == "lib.rs" || n == "main.rs");
                if !root && !docs.contains("# Layout") {
                    continue;
                }
                checked += 1;
                for module in declared_modules(&source) {
                    if !docs.contains(&format!("`{module}`")) {
                        missing.push(format!("{}: `{module}`", file.display()));
                    }
                }
            }
        }
        assert!(checked >= 8, "only {checked} crate roots found");
        assert!(
            missing.is_empty(),
            "modules missing from their file's `//!` layout:\n{}",
            missing.join("\n")
        );
    }

    /// Lines of code of a source file besides its unit tests: the lines before its
    /// top-level `#[cfg(test)]` block that are neither blank nor only a comment.
    pub(super) fn code_lines(source: &str) -> usize {
        source
            .lines()
            .take_while(|line| *line != "#[cfg(test)]")
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .count()
    }

    /// The standing rule on size (`STYLE.md`): no source file over about 500 lines of code
    /// besides its unit tests.
    pub(super) const MAX_CODE_LINES: usize = 500;

    #[test]
    fn code_lines_leave_out_comments_blank_lines_and_tests() {
        let source = "//! m\n\nfn a() {}\n    // c\n/// d\nfn b() {}\n#[cfg(test)]\nmod tests {}\n";
        assert_eq!(code_lines(source), 2);
    }

    #[test]
    fn no_source_file_is_over_500_lines_of_code() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        rust_files(&crates, &mut files);
        // Library and binary sources; integration tests and benches are test code.
        files.retain(|f| {
            f.components().all(|c| c.as_os_str() != "target")
                && f.components().any(|c| c.as_os_str() == "src")
        });
        assert!(
            files.len() > 50,
            "expected every source file under {crates:?}"
        );
        let mut over: Vec<(usize, String)> = files
            .iter()
            .map(|f| {
                let source = std::fs::read_to_string(f).expect("source is readable");
                (code_lines(&source), f.display().to_string())
            })
            .filter(|(n, _)| *n > MAX_CODE_LINES)
            .collect();
        over.sort();
        assert!(
            over.is_empty(),
            "files over {MAX_CODE_LINES} lines of code (split them by responsibility):\n{}",
            over.iter()
                .map(|(n, f)| format!("{n:5} {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
