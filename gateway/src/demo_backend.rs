//! The demo backend of `make run` and the end-to-end tests: an HTTPS server with its own CA that
//! requires a client certificate (the gateway's) and answers every request with a JSON echo of
//! the request line, the headers it got, and the client certificate's subject.
//!
//! A fixture, not a product feature: HTTP/1.1 with Content-Length bodies only, bounded request
//! heads, nothing persisted; `?delay=MS` (capped at 10 s) makes it slow on purpose.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use certgate_policy::crypto::pkey::PKey;
use certgate_policy::crypto::ssl::{SslAcceptor, SslMethod, SslVerifyMode};
use certgate_policy::crypto::x509::store::X509StoreBuilder;
use certgate_policy::crypto::x509::X509;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

pub(crate) fn run(
    listen: SocketAddr,
    cert: &Path,
    key: &Path,
    client_cas: &[std::path::PathBuf],
) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let chain =
        X509::stack_from_pem(&read(cert)?).map_err(|e| format!("{}: {e}", cert.display()))?;
    let key =
        PKey::private_key_from_pem(&read(key)?).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut b =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| e.to_string())?;
    let mut it = chain.into_iter();
    let leaf = it.next().ok_or("no certificate in the server chain file")?;
    b.set_certificate(&leaf).map_err(|e| e.to_string())?;
    for c in it {
        b.add_extra_chain_cert(c).map_err(|e| e.to_string())?;
    }
    b.set_private_key(&key).map_err(|e| e.to_string())?;
    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for ca in client_cas {
        for c in X509::stack_from_pem(&read(ca)?).map_err(|e| format!("{}: {e}", ca.display()))? {
            store.add_cert(c).map_err(|e| e.to_string())?;
        }
    }
    b.set_verify_cert_store(store.build())
        .map_err(|e| e.to_string())?;
    b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    let acceptor = Arc::new(b.build());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("{listen}: {e}"))?;
        eprintln!("demo backend listening on https://{listen}");
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(ssl) = certgate_policy::crypto::ssl::Ssl::new(acceptor.context()) else {
                    return;
                };
                let Ok(mut tls) = pingora::tls::tokio_ssl::SslStream::new(ssl, tcp) else {
                    return;
                };
                if std::pin::Pin::new(&mut tls).accept().await.is_err() {
                    return;
                }
                let subject = tls
                    .ssl()
                    .peer_certificate()
                    .and_then(|c| c.subject_name().to_der().ok())
                    .and_then(|d| certgate_policy::Name::from_der(&d).ok())
                    .map(|n| n.to_dotnet());
                let _ = serve(&mut tls, subject).await;
            });
        }
    })
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    io: &mut S,
    subject: Option<String>,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read one request head.
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > MAX_HEAD {
                return Ok(());
            }
            let mut chunk = [0u8; 8192];
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < end + length {
            let mut chunk = [0u8; 8192];
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let received = String::from_utf8_lossy(&buf[end..end + length]).to_string();
        buf.drain(..end + length);
        // `?delay=MS` (at most 10 s): a slow backend for timeout and draining tests.
        let delay = request_line
            .split_whitespace()
            .nth(1)
            .and_then(|target| target.split_once('?'))
            .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("delay=")))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(10_000);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        let body = serde_json::json!({
            "request": request_line,
            "headers": headers.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>(),
            "client_certificate": subject,
            "body": received,
        })
        .to_string();
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Backend: demo\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        io.write_all(resp.as_bytes()).await?;
    }
}
