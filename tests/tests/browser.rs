//! The portal as people use it, in a real browser: Debian's Chromium driven through
//! chromedriver, against `printyx demo` (its dealer, its year of history, its simulated fleet
//! and agent). A customer signs in, sends a meter photo, asks for service with a photo
//! attached, orders toner, pays an invoice with the sandbox's test card and sees the dealer's
//! approval arrive live; the same journey on a phone-sized screen; dealer staff work the
//! review queue, the approval queue and the dispatch of a request.
//!
//! A failing step names itself and leaves a screenshot and the page's HTML of every open
//! browser in `target/tmp/browser-screenshots/`.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stderr)]

use e2e::peers::free_tcp_port;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type R<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Browser tests share two cores with the server, the fleet and Chromium: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CUSTOMER: (&str, &str) = ("pat@acme-dental.example", "demo-customer");
const DEALER_ADMIN: (&str, &str) = ("ada@demo-dealer.example", "demo-dealer");

/// `printyx demo` in a folder of its own, killed when dropped.
struct Demo {
    peer: e2e::demo::Demo,
    _data: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        let data = tempfile::tempdir().unwrap();
        let binary = e2e::workspace_binary("portal", "printyx");
        let peer = e2e::demo::Demo::start(Command::new(binary), data.path(), Stdio::inherit());
        Demo { peer, _data: data }
    }
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_tcp_port();
        // a process group of its own: the Chromium it starts is killed with it, also when a
        // failed test never closed its session
        let child = Command::new("/usr/bin/chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Desktop,
    /// 390 × 844 CSS pixels, touch, a phone's user agent.
    Phone,
}

/// One person at one browser.
struct Person {
    c: Client,
    base: String,
    who: &'static str,
    _profile: tempfile::TempDir,
}

impl Person {
    async fn open(driver: &Driver, demo: &Demo, who: &'static str, screen: Screen) -> Person {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": "/usr/bin/chromium" });
        match screen {
            Screen::Desktop => args.push("--window-size=1280,900".into()),
            Screen::Phone => {
                options["mobileEmulation"] = json!({
                    "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true },
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                                  (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
                });
            }
        }
        options["args"] = json!(args);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let c = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap();
        Person {
            c,
            base: demo.peer.url.clone(),
            who,
            _profile: profile,
        }
    }

    async fn go(&self, path: &str) -> R<()> {
        let t = Instant::now();
        self.c.goto(&format!("{}{path}", self.base)).await?;
        slow("go", path, t);
        Ok(())
    }

    async fn wait(&self, css: &str) -> R<fantoccini::elements::Element> {
        let t = Instant::now();
        let found = self
            .c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("no element {css}: {e}"))?;
        slow("wait", css, t);
        Ok(found)
    }

    async fn fill(&self, css: &str, text: &str) -> R<()> {
        let e = self.wait(css).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    async fn click(&self, css: &str) -> R<()> {
        let e = self.wait(css).await?;
        let t = Instant::now();
        e.click().await?;
        slow("click", css, t);
        Ok(())
    }

    /// The text of an element, also when a small screen hides it.
    async fn text(&self, css: &str) -> R<String> {
        let e = self.wait(css).await?;
        Ok(e.prop("textContent")
            .await?
            .unwrap_or_default()
            .trim()
            .to_owned())
    }

    /// Opens the link `css` points at.
    async fn follow(&self, css: &str) -> R<String> {
        let href = self
            .wait(css)
            .await?
            .attr("href")
            .await?
            .ok_or(format!("{css} is not a link"))?;
        self.go(&href).await?;
        Ok(href)
    }

    /// Waits until the browser is at a page under `prefix` (after a form's redirect).
    async fn wait_path(&self, prefix: &str) -> R<String> {
        self.wait_path_where(prefix, |p| p.starts_with(prefix))
            .await
    }

    async fn wait_path_where(&self, what: &str, at: impl Fn(&str) -> bool) -> R<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let path = self.path().await?;
            if at(&path) {
                return Ok(path);
            }
            if Instant::now() > deadline {
                return Err(format!("still at {path}, not at {what}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` says `expected` (a form's answer replacing the page).
    async fn wait_text(&self, css: &str, expected: &str) -> R<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // the element may go stale as the page is replaced: that is asking again
            let now = self.text(css).await.unwrap_or_default();
            if now == expected {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{css} says {now:?}, not {expected:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn path(&self) -> R<String> {
        Ok(self.c.current_url().await?.path().to_owned())
    }

    async fn page_has(&self, text: &str) -> R<bool> {
        Ok(self.c.source().await?.contains(text))
    }

    async fn sign_in(&self, (email, password): (&str, &str)) -> R<()> {
        self.go("/sign-in").await?;
        self.fill("#dealer", "demo").await?;
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click("form[action='/sign-in'] button[type=submit]")
            .await?;
        self.wait("#unread-count").await?;
        Ok(())
    }

    /// A screenshot and the HTML of what this person sees, for the failure report.
    async fn keep_evidence(&self, test: &str) -> String {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let base = dir.join(format!("{test}-{}", self.who));
        if let Ok(png) = self.c.screenshot().await {
            let _ = std::fs::write(base.with_extension("png"), png);
        }
        if let Ok(html) = self.c.source().await {
            let _ = std::fs::write(base.with_extension("html"), html);
        }
        base.with_extension("png").display().to_string()
    }
}

fn slow(what: &str, on: &str, since: Instant) {
    if since.elapsed() > Duration::from_secs(2) {
        eprintln!("  slow {what} {on}: {:.1} s", since.elapsed().as_secs_f64());
    }
}

/// Runs one named step; its failure says which step it was.
async fn step<T>(name: &str, f: impl Future<Output = R<T>>) -> R<T> {
    let started = Instant::now();
    let result = f.await.map_err(|e| format!("{name}: {e}").into());
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    result
}

/// Fails the test with every person's screenshot when the journey failed.
async fn verdict(test: &str, result: R<()>, people: &[&Person]) {
    if let Err(e) = result {
        let mut shots = Vec::new();
        for p in people {
            shots.push(p.keep_evidence(test).await);
        }
        panic!("{test}: {e}\nscreenshots: {}", shots.join(", "));
    }
}

/// The `n`th readable photo of a total counter.
fn photo(n: usize) -> PathBuf {
    let labelled = e2e::photos::labelled();
    let l = labelled
        .iter()
        .filter(|l| l.readable && l.counters.contains_key("total"))
        .nth(n)
        .expect("readable photos with a total counter");
    // chromedriver takes only canonical paths for uploads
    e2e::photos::dir().join(&l.file).canonicalize().unwrap()
}

fn digits(s: &str) -> Option<u64> {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    d.parse().ok()
}

/// Everything a customer comes for, start to end.
async fn customer_journey(pat: &Person, ada: &Person) -> R<()> {
    step("sign in and see the dashboard", async {
        pat.sign_in(CUSTOMER).await?;
        assert_eq!(pat.path().await?, "/");
        let hello = pat.text("h1").await?;
        if !hello.contains("Pat") {
            return Err(format!("the dashboard greets {hello:?}").into());
        }
        Ok(())
    })
    .await?;

    let device = step("send a meter reading from a photo", async {
        pat.go("/meters").await?;
        let first = pat.wait("section.meter-device").await?;
        let id = first.attr("id").await?.unwrap_or_default();
        let device = id.trim_start_matches("device-").to_owned();
        let last = first.find(Locator::Css("p.muted")).await?.text().await?;
        // "Last accepted total: 141,581 (2026-12-06 12:05)"
        let last = last
            .split(':')
            .nth(1)
            .and_then(|v| v.split('(').next())
            .and_then(digits)
            .ok_or(format!("no last total in {last:?}"))?;
        pat.go(&format!("/equipment/{device}/photo")).await?;
        pat.wait("#photo")
            .await?
            .send_keys(&photo(0).display().to_string())
            .await?;
        pat.click("form[action^='/equipment/'] button[type=submit]")
            .await?;
        // the photo is read by OCR on the server; the person checks what it read
        pat.fill(
            "form[action^='/meter-photos/'] input#c-total",
            &(last + 37).to_string(),
        )
        .await?;
        pat.click("form[action^='/meter-photos/'] button[type=submit]")
            .await?;
        let result = pat.wait("div.result").await?;
        let class = result.attr("class").await?.unwrap_or_default();
        let said = result.text().await?;
        if !(class.contains("result-accepted") || class.contains("result-review"))
            || said.is_empty()
        {
            return Err(format!("the pipeline answered {class:?}: {said}").into());
        }
        Ok(device)
    })
    .await?;

    step("ask for service with a photo attached", async {
        pat.go("/requests/new").await?;
        pat.wait("#equipment")
            .await?
            .select_by_value(&device)
            .await?;
        pat.wait("#problem_type")
            .await?
            .select_by_value("print_quality")
            .await?;
        pat.fill(
            "#description",
            "Grey streaks down the left side of every page.",
        )
        .await?;
        pat.wait("#attachments")
            .await?
            .send_keys(&photo(1).display().to_string())
            .await?;
        pat.click("form[action^='/requests/new'] button[type=submit]")
            .await?;
        let path = pat
            .wait_path_where("a request's page", |p| {
                p.starts_with("/requests/") && p != "/requests/new"
            })
            .await?;
        let name = photo(1).file_name().unwrap().to_string_lossy().into_owned();
        if !pat.page_has("Grey streaks down the left side").await? || !pat.page_has(&name).await? {
            return Err(
                format!("the request page at {path} lacks the description or {name}").into(),
            );
        }
        Ok(())
    })
    .await?;

    let order = step("order toner for the device", async {
        pat.go(&format!("/supplies?equipment={device}")).await?;
        pat.fill("input.qty", "1").await?;
        pat.click("form[action='/cart'] button[type=submit]")
            .await?;
        pat.fill("#po_number", "PO-BROWSER-1").await?;
        pat.click("form[action='/cart/checkout'] button[type=submit]")
            .await?;
        let path = pat.wait_path("/orders/").await?;
        if !pat.page_has("PO-BROWSER-1").await? {
            return Err(format!("after checkout the page is {path}").into());
        }
        Ok(path)
    })
    .await?;

    step(
        "see the dealer's approval arrive without reloading",
        async {
            let before = digits(&pat.text("#unread-count").await?).unwrap_or(0);
            ada.sign_in(DEALER_ADMIN).await?;
            ada.go(&order).await?;
            ada.click("button[name=status][value=approved]").await?;
            ada.wait("main").await?;
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let now = digits(&pat.text("#unread-count").await?).unwrap_or(0);
                if now > before {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!("the unread count stayed at {now} (was {before})").into());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        },
    )
    .await?;

    step("pay the open invoice with the sandbox's test card", async {
        pat.go("/invoices").await?;
        let invoice = pat.follow("table a[href^='/invoices/']").await?;
        pat.follow("a[href='/payment-methods/new']").await?;
        pat.click("a.button[href^='/sandbox-gateway/card']").await?;
        pat.fill("#number", "4242 4242 4242 4242").await?;
        pat.click("form[action='/sandbox-gateway/card'] button[type=submit]")
            .await?;
        pat.click("form[action='/payment-methods'] button[type=submit]")
            .await?;
        pat.wait_path_where("the payments", |p| p == "/payments")
            .await?;
        pat.go(&invoice).await?;
        pat.click(&format!("form[action='{invoice}/pay'] button[type=submit]"))
            .await?;
        pat.wait_path("/payments").await?;
        pat.go(&invoice).await?;
        pat.wait_text("main section.card p strong", "Paid").await
    })
    .await
}

fn run_async(f: impl Future<Output = ()>) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}

async fn customer_on(screen: Screen, test: &str) {
    let demo = Demo::start();
    let driver = Driver::start();
    let pat = Person::open(&driver, &demo, "customer", screen).await;
    let ada = Person::open(&driver, &demo, "dealer", Screen::Desktop).await;
    let result = customer_journey(&pat, &ada).await;
    verdict(test, result, &[&pat, &ada]).await;
    let _ = pat.c.close().await;
    let _ = ada.c.close().await;
}

#[test]
fn a_customer_does_everything_from_a_desktop_browser() {
    run_async(customer_on(Screen::Desktop, "customer-desktop"));
}

#[test]
fn a_customer_does_everything_from_a_phone() {
    run_async(customer_on(Screen::Phone, "customer-phone"));
}

async fn dealer_journey(ada: &Person) -> R<()> {
    ada.sign_in(DEALER_ADMIN).await?;
    step("accept a reading waiting in the review queue", async {
        ada.go("/review").await?;
        let item = ada.wait("section.review-item").await?;
        let id = item.attr("id").await?.unwrap_or_default();
        item.find(Locator::Css("button[name=action][value=accept]"))
            .await?
            .click()
            .await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            ada.go("/review").await?;
            ada.wait("main h1").await?;
            if ada.c.find(Locator::Id(&id)).await.is_err() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{id} is still in the queue").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await?;
    step("approve the order waiting for approval", async {
        ada.go("/orders?status=submitted").await?;
        ada.follow("table a[href^='/orders/']").await?;
        if !ada.page_has("PO-1042").await? {
            return Err("the waiting order is not Acme's PO-1042".into());
        }
        ada.click("button[name=status][value=approved]").await?;
        ada.wait_text("main section p strong", "Approved").await
    })
    .await?;
    step("schedule the open service request", async {
        ada.go("/requests").await?;
        ada.follow("table a[href^='/requests/']").await?;
        let tomorrow = date_in(1);
        // datetime-local takes the digits as typed: date, then the time
        set_datetime(ada, "#start", &tomorrow, "0900").await?;
        set_datetime(ada, "#end", &tomorrow, "1100").await?;
        ada.click("form[action$='/schedule'] button[type=submit]")
            .await?;
        ada.wait_text("main section p strong", "Scheduled").await
    })
    .await
}

/// A datetime-local field set the way a script sets it: its value, then an input event.
async fn set_datetime(p: &Person, css: &str, date: &str, hhmm: &str) -> R<()> {
    let value = format!("{date}T{}:{}", &hhmm[..2], &hhmm[2..]);
    let e = p.wait(css).await?;
    p.c.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
        vec![serde_json::to_value(&e)?, Value::String(value)],
    )
    .await?;
    Ok(())
}

/// `YYYY-MM-DD`, `days` from today.
fn date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

#[test]
fn dealer_staff_review_approve_and_schedule() {
    run_async(async {
        let demo = Demo::start();
        let driver = Driver::start();
        let ada = Person::open(&driver, &demo, "dealer", Screen::Desktop).await;
        let result = dealer_journey(&ada).await;
        verdict("dealer", result, &[&ada]).await;
        let _ = ada.c.close().await;
    });
}
