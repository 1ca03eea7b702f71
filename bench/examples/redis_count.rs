//! A `rate-limit-by-key` check against Redis on loopback, as the gateway makes it (one Lua
//! script run over the node's one multiplexed connection), timed per check.
//!
//!   cargo run --release -p certgate-bench --example redis_count -- [CHECKS] [IN_FLIGHT]
//!
//! Starts its own `redis-server` on a free loopback port (make test installs it), then: CHECKS
//! checks one after the other (latency per check, p50/p99/p99.9), and CHECKS checks with
//! IN_FLIGHT (default 64) at a time, pipelined over the one connection as concurrent requests
//! are in the gateway (throughput and latency). The in-process counter is timed beside it for
//! scale. Stops Redis when done.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use certgate::Redis;
use certgate_policy::{Count, CountRequest, CounterStore, LocalCounters, Window};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(26379)
}

fn request(i: usize) -> CountRequest {
    CountRequest {
        counts: vec![Count {
            key: format!("bench\u{1f}tenant-{}", i % 1000),
            amount: 1,
            limit: 1 << 40,
            period: Duration::from_secs(60),
            window: Window::Sliding,
        }],
        quota: false,
    }
}

fn quantiles(label: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)];
    println!(
        "{label}: n={} p50={:.1} µs p99={:.1} µs p99.9={:.1} µs",
        d.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(0.999).as_secs_f64() * 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let checks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let port = free_port();
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (make test installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let redis = Redis::at_address(&format!("127.0.0.1:{port}"));
    rt.block_on(async {
        for i in 0..1000 {
            redis.count(&request(i)).await.expect("warm-up count");
        }
        let mut one_by_one = Vec::with_capacity(checks);
        for i in 0..checks {
            let started = Instant::now();
            redis.count(&request(i)).await.expect("count");
            one_by_one.push(started.elapsed());
        }
        quantiles("redis, one at a time", one_by_one);

        let started = Instant::now();
        let per_task = checks / in_flight;
        let tasks: Vec<_> = (0..in_flight)
            .map(|t| {
                let redis: Arc<Redis> = redis.clone();
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(per_task);
                    for i in 0..per_task {
                        let s = Instant::now();
                        redis
                            .count(&request(t * per_task + i))
                            .await
                            .expect("count");
                        out.push(s.elapsed());
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::with_capacity(checks);
        for t in tasks {
            all.extend(t.await.expect("a counting task"));
        }
        let took = started.elapsed();
        println!(
            "redis, {in_flight} in flight (pipelined): {:.0} checks/s",
            all.len() as f64 / took.as_secs_f64()
        );
        quantiles(&format!("redis, {in_flight} in flight"), all);
    });
    let local = LocalCounters::default();
    let mut d = Vec::with_capacity(checks);
    for i in 0..checks {
        let r = request(i);
        let started = Instant::now();
        std::hint::black_box(local.hit(&r.counts[0]));
        d.push(started.elapsed());
    }
    quantiles("in-process counter", d);
    let _ = server.kill();
    let _ = server.wait();
}
