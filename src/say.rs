//! Writing to stdout without panicking when the reader has gone away.

/// `println!` that ends the process quietly (exit 0) when stdout is a closed pipe, as in
/// `ppml data check --json | head -1`, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

/// Text without a newline, likewise.
macro_rules! say_raw {
    ($text:expr) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all($text.as_bytes()).and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}
