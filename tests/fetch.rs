//! `ppml::data::fetch` against a tiny local HTTP server: no internet needed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use flate2::Compression;
use flate2::write::GzEncoder;
use ppml::data::fetch::{FetchError, Source, fetch_from};
use ppml::data::idx::IdxArray;
use ppml::data::{DataError, DatasetName, DatasetSpec, Located, load_from, sha256_hex};
use ppml::progress::Progress;

/// Serves `routes` (path → body) over HTTP/1.1 on 127.0.0.1, one request per connection, 404 for
/// other paths. Stops after `max_connections` or 10 s, whichever comes first.
fn serve(routes: Vec<(String, Vec<u8>)>, max_connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < max_connections && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    served += 1;
                    let _ = answer(stream, &routes);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    addr
}

fn answer(mut stream: TcpStream, routes: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match routes.iter().find(|(p, _)| p == path) {
        Some((_, body)) => ("200 OK", body.as_slice()),
        None => ("404 Not Found", b"not found".as_slice()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Raw IDX files of a tiny EMNIST-letters-like set: 3 train and 2 test images, labels 1..=26.
fn tiny_idx() -> [Vec<u8>; 4] {
    let images = |n: usize| {
        let values = (0..n * 784).map(|i| (i % 251) as u8).collect();
        IdxArray {
            dims: vec![n, 28, 28],
            values,
        }
        .to_bytes()
    };
    let labels = |values: Vec<u8>| {
        IdxArray {
            dims: vec![values.len()],
            values,
        }
        .to_bytes()
    };
    [
        images(3),
        labels(vec![1, 13, 26]),
        images(2),
        labels(vec![2, 25]),
    ]
}

/// `name`'s spec shrunk to the tiny set, with no published checksums.
fn tiny_spec(name: DatasetName) -> DatasetSpec {
    let mut spec = name.spec().clone();
    for (file, count) in spec.files.iter_mut().zip([3, 3, 2, 2]) {
        file.count = count;
        file.sha256 = None;
    }
    spec
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The EMNIST-style archive (plus an unrelated member) and a `Source::Zip` for it at `url`.
fn emnist_zip(spec: &DatasetSpec) -> (Vec<u8>, impl Fn(&str) -> Source) {
    let gz: Vec<(String, Vec<u8>)> = spec
        .files
        .iter()
        .zip(tiny_idx())
        .map(|(f, raw)| (format!("gzip/{}.gz", f.name), gzip(&raw)))
        .collect();
    let mut members = gz.clone();
    members.insert(
        1,
        (
            "gzip/emnist-digits-train-labels-idx1-ubyte.gz".into(),
            gzip(b"x"),
        ),
    );
    let source = move |url: &str| Source::Zip {
        url: url.to_string(),
        members: std::array::from_fn(|i| (gz[i].0.clone(), Some(sha256_hex(&gz[i].1)))),
    };
    (zip_of(&members), source)
}

/// Names in `dir` (hidden ones included), sorted; empty when `dir` does not exist.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_zip_source_is_downloaded_verified_and_loadable() {
    let spec = tiny_spec(DatasetName::EmnistLetters);
    let (zip, source) = emnist_zip(&spec);
    let base = serve(vec![("/gzip.zip".into(), zip)], 1);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("emnist-letters");
    let source = source(&format!("{base}/gzip.zip"));
    let files = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap();

    let mut expected: Vec<String> = spec
        .files
        .iter()
        .map(|f| format!("{}.gz", f.name))
        .collect();
    expected.sort();
    assert_eq!(
        listing(&dest),
        expected,
        "only the four files, no zip or staging left"
    );
    let files: [_; 4] = files.try_into().unwrap();
    let splits = load_from(&spec, Located { dir: dest, files }).unwrap();
    let labels: Vec<usize> = (0..splits.train.len())
        .map(|i| splits.train.label(i))
        .collect();
    assert_eq!(labels, [0, 12, 25]);
    assert_eq!((splits.test.label(0), splits.test.label(1)), (1, 24));
}

#[test]
fn a_zip_member_with_the_wrong_checksum_leaves_nothing_behind() {
    let spec = tiny_spec(DatasetName::EmnistLetters);
    let (zip, source) = emnist_zip(&spec);
    let base = serve(vec![("/gzip.zip".into(), zip)], 1);
    let mut source = source(&format!("{base}/gzip.zip"));
    if let Source::Zip { members, .. } = &mut source {
        members[2].1 = Some("00".repeat(32));
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("emnist-letters");
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("emnist-letters-test-images"),
        "{err}"
    );
    assert_eq!(listing(&dest), Vec::<String>::new());
}

/// A Fashion-MNIST-style source: four .gz files served individually, checked on content.
fn files_source(spec: &DatasetSpec, raw: &[Vec<u8>; 4]) -> (Vec<(String, Vec<u8>)>, Source) {
    let routes = spec
        .files
        .iter()
        .zip(raw)
        .map(|(f, r)| (format!("/mirror/{}.gz", f.name), gzip(r)))
        .collect();
    let source = Source::Files {
        base_url: String::new(),
        files: std::array::from_fn(|i| {
            (
                format!("{}.gz", spec.files[i].name),
                Some(sha256_hex(&raw[i])),
            )
        }),
    };
    (routes, source)
}

#[test]
fn a_files_source_checks_the_uncompressed_content() {
    let spec = tiny_spec(DatasetName::FashionMnist);
    let mut raw = tiny_idx();
    raw[1] = IdxArray {
        dims: vec![3],
        values: vec![0, 4, 9],
    }
    .to_bytes();
    raw[3] = IdxArray {
        dims: vec![2],
        values: vec![1, 8],
    }
    .to_bytes();
    let (routes, source) = files_source(&spec, &raw);
    // No trailing slash: the base address is a folder either way.
    let source = source.with_url(&format!("{}/mirror", serve(routes, 4)));
    let tmp = tempfile::tempdir().unwrap();
    let files = fetch_from(&source, &spec, tmp.path(), &Progress::hidden()).unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(listing(tmp.path()).len(), 4);
    let splits = load_from(
        &spec,
        Located {
            dir: tmp.path().into(),
            files: files.try_into().unwrap(),
        },
    );
    assert_eq!(splits.unwrap().train.label(2), 9);
}

#[test]
fn corrupt_file_content_is_rejected_and_leaves_nothing_behind() {
    let spec = tiny_spec(DatasetName::FashionMnist);
    let mut raw = tiny_idx();
    raw[1] = IdxArray {
        dims: vec![3],
        values: vec![0, 4, 9],
    }
    .to_bytes();
    raw[3] = IdxArray {
        dims: vec![2],
        values: vec![1, 8],
    }
    .to_bytes();
    let (mut routes, source) = files_source(&spec, &raw);
    // Valid gzip, valid IDX, but not the published content: one pixel differs.
    let mut tampered = raw[2].clone();
    tampered[100] ^= 0xff;
    routes[2].1 = gzip(&tampered);
    let source = source.with_url(&format!("{}/mirror/", serve(routes, 4)));
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("fashion-mnist");
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(
        matches!(&err, DataError::ChecksumMismatch { path, .. }
        if path.to_string_lossy().ends_with("/mirror/t10k-images-idx3-ubyte.gz")),
        "{err}"
    );
    assert_eq!(listing(&dest), Vec::<String>::new());
}

#[test]
fn without_checksums_a_malformed_file_is_caught_by_loading() {
    let spec = tiny_spec(DatasetName::Mnist);
    let mut raw = tiny_idx();
    raw[1] = IdxArray {
        dims: vec![3],
        values: vec![0, 4, 9],
    }
    .to_bytes();
    raw[3] = IdxArray {
        dims: vec![1],
        values: vec![1],
    }
    .to_bytes(); // 2 test images, 1 label
    let (routes, source) = files_source(&spec, &raw);
    let Source::Files { files, .. } = source else {
        unreachable!()
    };
    let source = Source::Files {
        base_url: format!("{}/mirror/", serve(routes, 4)),
        files: files.map(|(name, _)| (name, None)),
    };
    let tmp = tempfile::tempdir().unwrap();
    let err = fetch_from(&source, &spec, tmp.path(), &Progress::hidden()).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { .. }), "{err}");
    assert_eq!(listing(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_missing_file_is_reported_with_its_url() {
    let spec = tiny_spec(DatasetName::FashionMnist);
    let base = serve(vec![], 1);
    let (_, source) = files_source(&spec, &tiny_idx());
    let source = source.with_url(&format!("{base}/nowhere/"));
    let tmp = tempfile::tempdir().unwrap();
    let err = fetch_from(&source, &spec, tmp.path(), &Progress::hidden()).unwrap_err();
    assert!(
        matches!(err, DataError::Fetch(FetchError::Status { .. })),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{base}/nowhere/train-images-idx3-ubyte.gz")),
        "{msg}"
    );
    assert!(msg.contains("404"), "{msg}");
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_fails_fast_with_the_alternatives() {
    let spec = tiny_spec(DatasetName::EmnistLetters);
    let (_, source) = emnist_zip(&spec);
    let source = source(&format!("http://127.0.0.1:{}/gzip.zip", closed_port()));
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("emnist-letters");
    let start = Instant::now();
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(err, DataError::Fetch(FetchError::Download { .. })),
        "{err}"
    );
    for hint in ["offline", "--data-dir", "--url", "--dataset fashion-mnist"] {
        assert!(err.to_string().contains(hint), "{err}");
    }
    assert!(!dest.exists(), "the folder it created is removed again");
}

#[test]
fn cli_fetch_from_an_unreachable_mirror_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/gzip.zip", closed_port());
    let out = Command::cargo_bin("ppml")
        .unwrap()
        .env_remove("PPML_DATA_DIR")
        .args([
            "data",
            "fetch",
            "emnist-letters",
            "--url",
            &url,
            "--data-dir",
        ])
        .arg(tmp.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--dataset fashion-mnist"), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
    let left = listing(&tmp.path().join("emnist-letters"));
    assert!(left.iter().all(|f| !f.contains("idx")), "{left:?}");
}

#[test]
fn a_failed_fetch_removes_every_folder_it_created_and_only_those() {
    let spec = tiny_spec(DatasetName::EmnistLetters);
    let (_, source) = emnist_zip(&spec);
    let source = source(&format!("http://127.0.0.1:{}/gzip.zip", closed_port()));
    let tmp = tempfile::tempdir().unwrap();
    let existing = tmp.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    let dest = existing.join("a/b/emnist-letters");
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(
        matches!(err, DataError::Fetch(FetchError::Download { .. })),
        "{err}"
    );
    assert!(existing.is_dir(), "a folder that was there stays");
    assert_eq!(
        listing(&existing),
        Vec::<String>::new(),
        "a/ and a/b/ are gone"
    );
}

#[test]
fn a_checksum_failure_removes_the_folders_it_created() {
    let spec = tiny_spec(DatasetName::EmnistLetters);
    let (zip, source) = emnist_zip(&spec);
    let base = serve(vec![("/gzip.zip".into(), zip)], 1);
    let mut source = source(&format!("{base}/gzip.zip"));
    if let Source::Zip { members, .. } = &mut source {
        members[0].1 = Some("00".repeat(32));
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("new/emnist-letters");
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
    assert_eq!(listing(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_mirror_serving_a_gzip_bomb_is_cut_off_at_the_published_size() {
    // The images file is a valid 3-image IDX followed by 256 MiB of zeros (concatenated gzip
    // members of 1 MiB, ~260 KB in all). Neither the download nor the check reads past what
    // the published file can hold.
    let spec = tiny_spec(DatasetName::Mnist);
    let mut raw = tiny_idx();
    raw[1] = IdxArray {
        dims: vec![3],
        values: vec![0, 4, 9],
    }
    .to_bytes();
    raw[3] = IdxArray {
        dims: vec![2],
        values: vec![1, 8],
    }
    .to_bytes();
    let (mut routes, source) = files_source(&spec, &raw);
    let zeros = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..256 {
        routes[0].1.extend_from_slice(&zeros);
    }
    let Source::Files { files, .. } = source else {
        unreachable!()
    };
    let base = format!("{}/mirror/", serve(routes, 4));
    let source = Source::Files {
        base_url: base.clone(),
        files: files.map(|(name, _)| (name, None)),
    };
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("mnist");
    let start = Instant::now();
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("{base}train-images-idx3-ubyte.gz")),
        "{err}"
    );
    assert!(!dest.exists());
}

#[test]
fn a_destination_under_a_file_is_reported_as_unwritable() {
    let spec = tiny_spec(DatasetName::Mnist);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"not a folder").unwrap();
    let dest = file.join("x/mnist");
    // Nothing is downloaded: the folder is made before any request.
    let source = Source::Files {
        base_url: format!("http://127.0.0.1:{}/", closed_port()),
        files: std::array::from_fn(|i| (spec.files[i].name.to_string(), None)),
    };
    let err = fetch_from(&source, &spec, &dest, &Progress::hidden()).unwrap_err();
    assert!(matches!(err, DataError::Unwritable { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "cannot create or write the destination folder {}",
            dest.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("--data-dir"), "{msg}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");
}

/// `ppml data fetch ARGS…`, with no inherited data folder.
fn ppml_fetch(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("ppml")
        .unwrap()
        .env_remove("PPML_DATA_DIR")
        .args(["--quiet", "data", "fetch"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_fetch_into_an_unwritable_folder_says_so_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"").unwrap();
    // A parent that is a regular file fails even as root; so does /proc.
    let under_file = file.join("x");
    for data_dir in [under_file.to_str().unwrap(), "/proc/x"] {
        let (code, stderr) = ppml_fetch(&["mnist", "--data-dir", data_dir]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot create or write the destination folder {data_dir}/mnist"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("cannot read"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!Path::new("/proc/x").exists());
}

#[test]
fn cli_fetch_from_an_unreachable_mirror_removes_the_folders_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/gzip.zip", closed_port());
    let data_dir = tmp.path().join("new/deeper");
    let (code, stderr) = ppml_fetch(&[
        "emnist-letters",
        "--url",
        &url,
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(listing(tmp.path()), Vec::<String>::new(), "{stderr}");
    for hint in [
        "offline",
        "`ppml data fetch emnist-letters --url MIRROR`",
        "add `--dataset fashion-mnist` to the command",
        "download https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip (on any machine",
        &format!("into {}/emnist-letters/", data_dir.display()),
        &format!(
            "`ppml data check emnist-letters --data-dir {}`",
            data_dir.display()
        ),
    ] {
        assert!(stderr.contains(hint), "lacks {hint:?}: {stderr}");
    }
}

#[test]
fn cli_run_offline_without_emnist_says_exactly_what_to_type() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let assert = crate::common::ppml(tmp.path())
        .args([
            "run",
            "train",
            "--offline",
            "--dataset",
            "emnist-letters",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for hint in [
        "ppml data fetch emnist-letters",
        "add `--dataset fashion-mnist` to the command",
        "apt-get install -y dataset-fashion-mnist",
        "download https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip (on any machine",
        "gzip/emnist-letters-train-labels-idx1-ubyte.gz",
        "into data/emnist-letters/ (or DIR/emnist-letters/ with --data-dir DIR)",
        "then run `ppml data check emnist-letters`",
    ] {
        assert!(stderr.contains(hint), "lacks {hint:?}: {stderr}");
    }
    assert!(!stderr.contains("--url"), "{stderr}");
}
