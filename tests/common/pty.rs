//! The binary at a pseudo-terminal, as a person meets it: prompts, spinners, Ctrl-C. A small
//! openpty-based driver (libc only, which the build already has), in the manner of expect.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any one expectation may take before the test fails with the transcript.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Pty {
    master: std::fs::File,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    /// How far into the (escape-stripped) transcript expectations have consumed.
    seen: usize,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// `t` from byte `at`, moved forward to a character boundary.
fn tail(t: &str, mut at: usize) -> &str {
    at = at.min(t.len());
    while !t.is_char_boundary(at) {
        at += 1;
    }
    &t[at..]
}

fn cloexec(fd: libc::c_int) {
    // SAFETY: plain fcntl on a descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
    }
}

/// The transcript without terminal escape sequences (colours, cursor movement, line clearing).
pub fn strip_escapes(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL
            Some(']') => {
                for c in chars.by_ref() {
                    if c == '\u{7}' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl Pty {
    /// Start `cmd` with a new pseudo-terminal as its controlling terminal and stdin/out/err.
    pub fn spawn(mut cmd: Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 60,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors into the integers given.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // Tests run in parallel: other children must not inherit this terminal.
        cloexec(master);
        cloexec(slave);
        // SAFETY: fresh descriptors from openpty, owned from here on.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn aws-harden at a pseudo-terminal");
        // Drop the parent's copies of the terminal side, so the reader ends when the child does.
        drop(cmd);
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut master = master.try_clone().unwrap();
            let output = output.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // EIO once the child has gone and nobody holds the terminal side.
                while let Ok(n) = master.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        Pty {
            master,
            child,
            output,
            seen: 0,
            reader: Some(reader),
        }
    }

    /// Everything shown so far, escapes stripped and line ends as `\n` (a terminal shows `\r\n`).
    pub fn transcript(&self) -> String {
        strip_escapes(&self.output.lock().unwrap()).replace("\r\n", "\n")
    }

    /// Everything shown so far, raw (with colours and cursor movement).
    pub fn raw(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    /// Wait until `needle` appears after what was already consumed; consume up to its end and
    /// return what came before it.
    pub fn expect(&mut self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let t = self.transcript();
            let rest = tail(&t, self.seen);
            if let Some(pos) = rest.find(needle) {
                let before = rest[..pos].to_string();
                self.seen = t.len() - rest.len() + pos + needle.len();
                return before;
            }
            if started.elapsed() > TIMEOUT {
                panic!("timed out waiting for {needle:?}\n--- transcript\n{t}");
            }
            if self.exited() {
                self.drain();
                let t = self.transcript();
                if !tail(&t, self.seen).contains(needle) {
                    panic!("the program ended before {needle:?}\n--- transcript\n{t}");
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Type keys. Waits a moment first, so the prompt on screen is reading keys one at a time
    /// (raw mode) and the keys do not reach the terminal's line editor instead.
    pub fn send(&mut self, keys: &str) {
        std::thread::sleep(Duration::from_millis(250));
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Answer prompts until `until` appears: each prompt (`? question ›`) gets the first unused
    /// answer whose key is part of the question, or Enter (its default) when none is given, so a
    /// question added later does not break the test. Returns the questions asked, in order.
    pub fn answer(&mut self, answers: &[(&str, &str)], until: &str) -> Vec<String> {
        let mut used = vec![false; answers.len()];
        let mut asked = Vec::new();
        let started = Instant::now();
        loop {
            let t = self.transcript();
            let rest = &tail(&t, self.seen);
            if let Some(pos) = rest.find(until) {
                self.seen += pos + until.len();
                return asked;
            }
            let prompt = rest
                .split(['\n', '\r'])
                .find(|l| l.starts_with("? ") && l.contains('›'))
                .map(|l| l[2..l.find('›').unwrap()].trim().to_string());
            if let Some(question) = prompt {
                let pick = answers
                    .iter()
                    .enumerate()
                    .find(|(i, (key, _))| !used[*i] && question.contains(key));
                let keys = match pick {
                    Some((i, (_, keys))) => {
                        used[i] = true;
                        *keys
                    }
                    None => "\r",
                };
                self.seen = t.len();
                self.send(keys);
                asked.push(question);
                // The prompt is done once it is marked answered (✔) or re-asked after an error (✘).
                self.expect_any(&["✔ ", "✘ ", until]);
                // Skip the rest of that line (the answered prompt), so it is not read as a prompt.
                let t = self.transcript();
                self.seen += tail(&t, self.seen).find('\n').unwrap_or(0);
                continue;
            }
            if started.elapsed() > TIMEOUT {
                panic!("timed out waiting for {until:?} or a prompt\n--- transcript\n{t}");
            }
            if self.exited() {
                // Its last words may still be on their way through the terminal.
                self.drain();
                let t = self.transcript();
                if let Some(pos) = tail(&t, self.seen).find(until) {
                    self.seen += pos + until.len();
                    return asked;
                }
                panic!("the program ended before {until:?}\n--- transcript\n{t}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn expect_any(&mut self, needles: &[&str]) {
        let started = Instant::now();
        loop {
            let t = self.transcript();
            if let Some(pos) = needles
                .iter()
                .filter_map(|n| tail(&t, self.seen).find(n))
                .min()
            {
                self.seen += pos;
                return;
            }
            if started.elapsed() > TIMEOUT {
                panic!("timed out waiting for any of {needles:?}\n--- transcript\n{t}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After the program ended: wait for the reader to take in everything it wrote (the reader
    /// ends at EIO once the terminal is closed).
    fn drain(&mut self) {
        if let Some(r) = &self.reader {
            let until = Instant::now() + Duration::from_secs(5);
            while !r.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Wait for the program to end; its exit code (minus the signal's number when a signal ended
    /// it) and the whole transcript.
    pub fn wait(mut self) -> (i32, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!(
                    "the program did not end\n--- transcript\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.drain();
        use std::os::unix::process::ExitStatusExt;
        // A death by a signal is the signal's number negated (SIGINT: -2), never 128 + it: a
        // test that expects 130 must see aws-harden choose exit(130) after Ctrl-C, not a program
        // killed by SIGINT, which a shell would also show as 130.
        let code = status
            .code()
            .unwrap_or_else(|| -status.signal().unwrap_or(0));
        (code, self.transcript())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
