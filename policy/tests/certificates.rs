//! Certificate semantics (SPEC §4): .NET renderings, extensions, parsing of hostile input, chain
//! depth, and the verification cache.

mod common;

use std::sync::Arc;

use certgate_policy::crypto::asn1::{Asn1Integer, Asn1Time};
use certgate_policy::crypto::bn::BigNum;
use certgate_policy::crypto::hash::MessageDigest;
use certgate_policy::crypto::nid::Nid;
use certgate_policy::crypto::x509::{X509Builder, X509NameBuilder};
use certgate_policy::pki::{issue, DemoPki, KeyKind, Profile, Spec};
use certgate_policy::Value;
use certgate_policy::{run_pipeline, PipelineResult};
use certgate_policy::{CertError, Certificate, Name, NameError};
use certgate_policy::{SentChain, TrustFailure, TrustStore, VerificationCache};
use common::*;

// ---- a tiny DER writer, so names can hold exactly what a hostile CA would put in them ----

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend([0x81, n as u8]);
    } else {
        v.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut out = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut stack = vec![(a & 0x7f) as u8];
        let mut v = a >> 7;
        while v > 0 {
            stack.push((v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        stack.reverse();
        out.extend(stack);
    }
    der(0x06, &out)
}

const UTF8: u8 = 0x0c;
const PRINTABLE: u8 = 0x13;
const IA5: u8 = 0x16;
const BMP: u8 = 0x1e;

/// A Name from RDNs in encoded order; each RDN is a list of (oid, string tag, value bytes).
fn name(rdns: &[&[(&str, u8, &[u8])]]) -> Vec<u8> {
    let mut seq = Vec::new();
    for rdn in rdns {
        let mut set = Vec::new();
        for (o, tag, v) in *rdn {
            let mut atv = oid(o);
            atv.extend(der(*tag, v));
            set.extend(der(0x30, &atv));
        }
        seq.extend(der(0x31, &set));
    }
    der(0x30, &seq)
}

fn render(rdns: &[&[(&str, u8, &[u8])]]) -> String {
    Name::from_der(&name(rdns))
        .unwrap_or_else(|e| panic!("{e}"))
        .to_dotnet()
}

const CN: &str = "2.5.4.3";
const O: &str = "2.5.4.10";
const OU: &str = "2.5.4.11";
const C: &str = "2.5.4.6";
const ST: &str = "2.5.4.8";
const L: &str = "2.5.4.7";
const E: &str = "1.2.840.113549.1.9.1";
const DC: &str = "0.9.2342.19200300.100.1.25";

#[test]
fn dotnet_distinguished_name_rendering() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // 1. RDNs in reverse of the encoded order, ", " between them.
        (
            name(&[
                &[(C, PRINTABLE, b"US")],
                &[(O, UTF8, b"Contoso")],
                &[(CN, UTF8, b"api")],
            ]),
            "CN=api, O=Contoso, C=US",
        ),
        // 2. A comma inside O is quoted (seed 003's O="Contoso, Inc.").
        (
            name(&[
                &[(O, UTF8, b"Contoso, Inc.")],
                &[(CN, UTF8, b"Valid Client")],
            ]),
            r#"CN=Valid Client, O="Contoso, Inc.""#,
        ),
        // 3. Multi-valued RDN: " + " inside, encoded order kept within the set.
        (
            name(&[
                &[(O, UTF8, b"Contoso")],
                &[(CN, UTF8, b"a"), (OU, UTF8, b"b")],
            ]),
            "CN=a + OU=b, O=Contoso",
        ),
        // 4. Embedded quotes are doubled inside quotes.
        (name(&[&[(CN, UTF8, br#"Say "hi""#)]]), r#"CN="Say ""hi""""#),
        // 5-6. Leading and trailing spaces are quoted.
        (name(&[&[(CN, UTF8, b" lead")]]), r#"CN=" lead""#),
        (name(&[&[(CN, UTF8, b"trail ")]]), r#"CN="trail ""#),
        // 7-8. '+' and '=' are quoted.
        (name(&[&[(CN, UTF8, b"a+b")]]), r#"CN="a+b""#),
        (name(&[&[(CN, UTF8, b"a=b")]]), r#"CN="a=b""#),
        // 9. UTF-8 as it is.
        (
            name(&[
                &[(L, UTF8, "Zürich".as_bytes())],
                &[(CN, UTF8, "Ærøskøbing".as_bytes())],
            ]),
            "CN=Ærøskøbing, L=Zürich",
        ),
        // 10. BMPString (UTF-16BE).
        (
            name(&[&[(
                CN,
                BMP,
                &[0x03, 0xA9, 0x00, 0x6D, 0x00, 0x65, 0x00, 0x67, 0x00, 0x61],
            )]]),
            "CN=Ωmega",
        ),
        // 11. An OID .NET has no label for.
        (
            name(&[&[("1.2.3.4.5", UTF8, b"x")], &[(CN, UTF8, b"y")]]),
            "CN=y, OID.1.2.3.4.5=x",
        ),
        // 12. Email as E, from an IA5String.
        (
            name(&[&[(E, IA5, b"ops@example.test")], &[(CN, UTF8, b"ops")]]),
            "CN=ops, E=ops@example.test",
        ),
        // 13. An empty subject.
        (name(&[]), ""),
        // 14. stateOrProvinceName is S.
        (
            name(&[&[(C, PRINTABLE, b"US")], &[(ST, UTF8, b"WA")]]),
            "S=WA, C=US",
        ),
        // 15. Domain components.
        (
            name(&[
                &[(DC, IA5, b"test")],
                &[(DC, IA5, b"example")],
                &[(CN, UTF8, b"host")],
            ]),
            "CN=host, DC=example, DC=test",
        ),
        // 16. A line break is quoted.
        (name(&[&[(CN, UTF8, b"two\nlines")]]), "CN=\"two\nlines\""),
        // 17. '#' and ';' are quoted.
        (
            name(&[&[(CN, UTF8, b"#1")], &[(OU, UTF8, b"a;b")]]),
            r##"OU="a;b", CN="#1""##,
        ),
        // 18. An empty value is "".
        (name(&[&[(CN, UTF8, b"")]]), r#"CN="""#),
        // 19. A non-string value is shown as '#' and hex.
        (
            name(&[&[("2.5.4.45", 0x03, &[0x00, 0xAB, 0xCD])]]),
            "OID.2.5.4.45=#00ABCD",
        ),
        // 20. serialNumber attribute.
        (
            name(&[&[("2.5.4.5", PRINTABLE, b"12345")], &[(CN, UTF8, b"dev")]]),
            "CN=dev, SERIALNUMBER=12345",
        ),
    ];
    for (i, (der, want)) in cases.iter().enumerate() {
        let got = Name::from_der(der)
            .unwrap_or_else(|e| panic!("case {}: {e}", i + 1))
            .to_dotnet();
        assert_eq!(&got, want, "case {}", i + 1);
    }
    assert_eq!(render(&[&[(CN, UTF8, b"x")]]), "CN=x");
}

#[test]
fn hostile_names_are_typed_errors() {
    assert_eq!(
        Name::from_der(&name(&[&[(CN, UTF8, b"evil\0.good.example")]])),
        Err(NameError::Nul("CN".into()))
    );
    let mut truncated = name(&[&[(CN, UTF8, b"abc")]]);
    truncated.truncate(truncated.len() - 2);
    assert!(matches!(Name::from_der(&truncated), Err(NameError::Der(_))));
    assert!(matches!(
        Name::from_der(&name(&[&[(CN, UTF8, &[0xff, 0xfe])]])),
        Err(NameError::Encoding(_))
    ));
    assert!(matches!(
        Name::from_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
        Err(NameError::Der(_))
    ));
    assert!(matches!(Name::from_der(&[]), Err(NameError::Der(_))));
    // An empty RDN set.
    assert!(matches!(
        Name::from_der(&der(0x30, &der(0x31, &[]))),
        Err(NameError::Structure(_))
    ));
    // More RDNs than any real name has.
    let many: Vec<&[(&str, u8, &[u8])]> = vec![&[(CN, UTF8, b"x")]; 65];
    assert!(matches!(
        Name::from_der(&name(&many)),
        Err(NameError::Limit(_))
    ));
    assert!(Name::from_der(&name(&many[..64])).is_ok());
}

fn ec_key() -> certgate_policy::crypto::pkey::PKey<certgate_policy::crypto::pkey::Private> {
    let group =
        certgate_policy::crypto::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    certgate_policy::crypto::pkey::PKey::from_ec_key(
        certgate_policy::crypto::ec::EcKey::generate(&group).unwrap(),
    )
    .unwrap()
}

/// A self-signed certificate with the given name, serial and validity (unix seconds).
fn self_signed(
    name: &certgate_policy::crypto::x509::X509NameRef,
    serial_hex: &str,
    not_before: i64,
    not_after: i64,
) -> certgate_policy::crypto::x509::X509 {
    let key = ec_key();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_hex_str(serial_hex).unwrap()).unwrap())
        .unwrap();
    b.set_subject_name(name).unwrap();
    b.set_issuer_name(name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A certificate with fixed content: subject, serial with the top bit set, fixed dates.
fn known_certificate() -> certgate_policy::crypto::x509::X509 {
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("O", "Contoso, Inc.").unwrap();
    n.append_entry_by_text("CN", "Known Client").unwrap();
    // 2023-10-27 09:05:11 UTC and 2026-10-27 09:15:10 UTC (the seed's root CA dates).
    self_signed(&n.build(), "E5112233", 1_698_397_511, 1_793_092_510)
}

/// Runs this test binary again as a child with `TZ` set, filtered to `test`: the local zone is
/// read once per process, so zone-dependent checks need a process of their own.
fn in_time_zone(tz: &str, test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("TZ", tz)
        .env("CERTGATE_TZ_CHILD", tz)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "child in TZ={tz}:\n{text}"
    );
}

#[test]
fn to_string_serial_and_dates_in_dotnet_layout() {
    let Ok(tz) = std::env::var("CERTGATE_TZ_CHILD") else {
        in_time_zone("UTC0", "to_string_serial_and_dates_in_dotnet_layout");
        in_time_zone(
            "EST5EDT,M3.2.0,M11.1.0",
            "to_string_serial_and_dates_in_dotnet_layout",
        );
        return;
    };
    let x = known_certificate();
    let c = Certificate::from_x509(x.clone()).unwrap();
    if tz != "UTC0" {
        // NotBefore/NotAfter are local time, as X509Certificate2 shows them (EDT is UTC-4).
        assert_eq!(c.not_before().to_string(), "10/27/2023 5:05:11 AM");
        assert_eq!(c.not_after().to_string(), "10/27/2026 5:15:10 AM");
        return;
    }
    assert_eq!(&**c.serial_number(), "00E5112233");
    let thumb: String =
        certgate_policy::crypto::hash::hash(MessageDigest::sha1(), &x.to_der().unwrap())
            .unwrap()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
    assert_eq!(&**c.thumbprint(), thumb.as_str());
    let want = format!(
        "[Subject]\n  CN=Known Client, O=\"Contoso, Inc.\"\n\n[Issuer]\n  CN=Known Client, O=\"Contoso, Inc.\"\n\n[Serial Number]\n  00E5112233\n\n[Not Before]\n  10/27/2023 9:05:11 AM\n\n[Not After]\n  10/27/2026 9:15:10 AM\n\n[Thumbprint]\n  {thumb}\n"
    );
    assert_eq!(c.to_dotnet_string(), want);
    assert_eq!(c.version(), 3);
    assert_eq!(&**c.signature_algorithm_friendly_name(), "sha256ECDSA");
}

fn eval_for(cert: &Arc<Certificate>, expr: &str) -> Result<String, String> {
    let pem = certgate_policy::Value::Bytes(pki().valid.cert_pem().into());
    eval_value(cert, &[("pem", pem)], &format!("@({expr})"))
}

/// Runs `<set-variable name="r" value="{value}"/>` (the value escaped for the attribute) for a
/// request with `cert` and the variables `vars`: `r`'s text, or the failure's message.
fn eval_value(
    cert: &Arc<Certificate>,
    vars: &[(&str, Value)],
    value: &str,
) -> Result<String, String> {
    let attr = value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let plan = compile_snippet(&format!(r#"<set-variable name="r" value="{attr}"/>"#))
        .map_err(|e| e.to_string())?;
    let mut ctx = ctx_for(Client::None);
    ctx.certificate = Some(cert.clone());
    for (name, v) in vars {
        ctx.state.set_variable(&Arc::from(*name), v.clone());
    }
    match run_pipeline(&plan, &mut ctx, |_, _| Ok(())) {
        PipelineResult::Proxied => Ok(ctx
            .state
            .variable("r")
            .map(Value::to_dotnet_string)
            .unwrap_or_default()),
        _ => Err(ctx
            .state
            .last_error
            .map(|e| e.message.to_string())
            .unwrap_or_default()),
    }
}

#[test]
fn certificate_members_in_expressions() {
    let p = pki();
    let san = cert(&p.multi_san);
    let c = "context.Request.Certificate";
    assert_eq!(
        eval_for(&san, &format!(r#"{c}.Extensions["2.5.29.17"].Format(false)"#)).unwrap(),
        "DNS Name=client.example.test, DNS Name=alt.example.test, IP Address=127.0.0.1, IP Address=0000:0000:0000:0000:0000:0000:0000:0001, RFC822 Name=ops@example.test, URL=spiffe://example.test/client"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!(r#"{c}.Extensions["Subject Alternative Name"].Oid.Value"#)
        )
        .unwrap(),
        "2.5.29.17"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!(r#"{c}.Extensions.Any(e => e.Oid.FriendlyName == "Enhanced Key Usage")"#)
        )
        .unwrap(),
        "True"
    );
    assert_eq!(
        eval_for(&san, &format!(r#"{c}.Extensions["1.2.3"] == null"#)).unwrap(),
        "True"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!("{c}.GetNameInfo(X509NameType.DnsName, false)")
        )
        .unwrap(),
        "client.example.test"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!("{c}.GetNameInfo(X509NameType.SimpleName, true)")
        )
        .unwrap(),
        "APIM Sample DEV Intermediate CA"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!("{c}.SignatureAlgorithm.FriendlyName + \"/\" + {c}.SignatureAlgorithm.Value")
        )
        .unwrap(),
        "sha256ECDSA/1.2.840.10045.4.3.2"
    );
    assert_eq!(
        eval_for(
            &san,
            &format!("{c}.RawData.Length == {c}.GetRawCertData().Length")
        )
        .unwrap(),
        "True"
    );
    let multi = cert(&p.multi_rdn);
    assert_eq!(
        eval_for(&multi, &format!("{c}.SubjectName.Name")).unwrap(),
        r#"CN=Multi RDN Client, OU=Partner APIs, O="Contoso, Inc.", S=WA, C=US"#
    );
    // new X509Certificate2(byte[]) from DER and from PEM text bytes.
    assert_eq!(
        eval_for(
            &multi,
            &format!("new X509Certificate2({c}.RawData).Thumbprint == {c}.Thumbprint")
        )
        .unwrap(),
        "True"
    );
    assert_eq!(
        eval_for(
            &multi,
            r#"new X509Certificate2(context.Variables.GetValueOrDefault<byte[]>("pem")).Subject"#
        )
        .unwrap(),
        "CN=Valid Client"
    );
    // Garbage bytes: ExpressionValueEvaluationFailure, not a panic.
    let e = eval_for(&multi, r#"new X509Certificate2(Encoding.UTF8.GetBytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")).Subject"#).unwrap_err();
    assert!(e.starts_with("Expression evaluation failed."), "{e}");
    let e = eval_for(
        &multi,
        r#"new X509Certificate2(Convert.FromBase64String("MIIB")).Subject"#,
    )
    .unwrap_err();
    assert!(e.contains("Cannot find the requested object"), "{e}");
}

#[test]
fn garbage_certificates_are_typed_errors() {
    let der = pki().valid.cert_der();
    assert!(matches!(
        Certificate::from_der(&der[..der.len() / 2]),
        Err(CertError::Der(_))
    ));
    assert!(matches!(Certificate::from_der(&[]), Err(CertError::Der(_))));
    assert!(matches!(
        Certificate::from_bytes(
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
        ),
        Err(CertError::Pem(_))
    ));
    assert!(Certificate::from_bytes(&pki().valid.cert_pem()).is_ok());
    // A NUL byte in the CN of an otherwise valid certificate.
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_nid_with_type(
        Nid::COMMONNAME,
        "evil\0.good.example",
        certgate_policy::crypto::asn1::Asn1Type::UTF8STRING,
    )
    .unwrap();
    let x = self_signed(&n.build(), "01", now_unix() - 60, now_unix() + 86_400);
    assert_eq!(
        Certificate::from_x509(x).unwrap_err(),
        CertError::Name(NameError::Nul("CN".into()))
    );
}

/// root → n intermediates → leaf.
fn chain(
    n: usize,
) -> (
    Vec<certgate_policy::crypto::x509::X509>,
    Vec<certgate_policy::crypto::x509::X509>,
    Arc<Certificate>,
) {
    let ca = |cn: &str, issuer: Option<&certgate_policy::pki::Issued>| {
        let mut nb = X509NameBuilder::new().unwrap();
        nb.append_entry_by_text("CN", cn).unwrap();
        issue(
            KeyKind::EcdsaP256,
            &Spec::new(nb.build(), Profile::Ca),
            issuer,
        )
        .unwrap()
    };
    let root = ca("Deep Root", None);
    let mut inter = Vec::new();
    let mut parent = root.clone();
    for i in 0..n {
        let c = ca(&format!("Deep Intermediate {i}"), Some(&parent));
        inter.push(c.cert.clone());
        parent = c;
    }
    let mut nb = X509NameBuilder::new().unwrap();
    nb.append_entry_by_text("CN", "Deep Leaf").unwrap();
    let leaf = issue(
        KeyKind::EcdsaP256,
        &Spec::new(nb.build(), Profile::Client),
        Some(&parent),
    )
    .unwrap();
    (
        vec![root.cert],
        inter,
        Arc::new(Certificate::from_x509(leaf.cert).unwrap()),
    )
}

#[test]
fn chains_deeper_than_ten_are_refused() {
    // Ten certificates in all (leaf, 8 intermediates, root) verify; eleven do not.
    let (roots, inter, leaf) = chain(8);
    let t = TrustStore::new(roots, inter, vec![]).unwrap();
    assert!(t.verify(&leaf, &SentChain::default(), false).is_ok());
    let (roots, inter, leaf) = chain(9);
    let t = TrustStore::new(roots, inter, vec![]).unwrap();
    assert!(matches!(
        t.verify(&leaf, &SentChain::default(), false),
        Err(TrustFailure::NotTrusted(_))
    ));
}

#[test]
fn verification_cache_hits_invalidates_and_stays_bounded() {
    let p = pki();
    let cache = Arc::new(VerificationCache::new(4));
    let store = |cache: &Arc<VerificationCache>| {
        TrustStore::with_cache(
            vec![p.root.cert.clone()],
            vec![p.dev_ca.cert.clone()],
            vec![],
            cache.clone(),
        )
        .unwrap()
    };
    let gen1 = store(&cache);
    let leaf = cert(&p.valid);
    let none = SentChain::default();
    assert!(gen1.verify(&leaf, &none, false).is_ok());
    assert_eq!((cache.hits(), cache.misses()), (0, 1));
    assert!(gen1.verify(&leaf, &none, false).is_ok());
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    // Failures are cached too (briefly): the untrusted client.
    assert!(gen1.verify(&cert(&p.untrusted), &none, false).is_err());
    assert!(gen1.verify(&cert(&p.untrusted), &none, false).is_err());
    assert_eq!((cache.hits(), cache.misses()), (2, 2));
    // A new trust generation never sees the old entries.
    let gen2 = store(&cache);
    assert_ne!(gen1.generation(), gen2.generation());
    assert!(gen2.verify(&leaf, &none, false).is_ok());
    assert_eq!(cache.misses(), 3);
    // The capacity bound holds under many distinct certificates.
    for i in 0..12 {
        let mut nb = X509NameBuilder::new().unwrap();
        nb.append_entry_by_text("CN", &format!("Client {i}"))
            .unwrap();
        let c = issue(
            KeyKind::EcdsaP256,
            &Spec::new(nb.build(), Profile::Client),
            Some(&p.dev_ca),
        )
        .unwrap();
        assert!(gen2
            .verify(&Certificate::from_x509(c.cert).unwrap(), &none, false)
            .is_ok());
        assert!(
            cache.len() <= cache.capacity(),
            "{} > {}",
            cache.len(),
            cache.capacity()
        );
    }
    // The leaf's validity is checked even on a hit: the expired client never verifies.
    assert_eq!(
        gen2.verify(&cert(&p.expired), &none, false).unwrap_err(),
        TrustFailure::Expired
    );
}

#[test]
fn rsa_demo_tree_verifies_like_ecdsa() {
    let p = DemoPki::generate(KeyKind::Rsa2048).unwrap();
    let t = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![],
    )
    .unwrap();
    let v = t
        .verify(
            &Certificate::from_x509(p.valid.cert.clone()).unwrap(),
            &SentChain::default(),
            false,
        )
        .unwrap();
    assert_eq!(v.depth, 3);
    assert_eq!(
        &**v.issuer().unwrap().subject(),
        "CN=APIM Sample DEV Intermediate CA"
    );
    assert_eq!(
        &**v.issuer().unwrap().signature_algorithm_friendly_name(),
        "sha256RSA"
    );
    assert!(t
        .verify(
            &Certificate::from_x509(p.untrusted.cert.clone()).unwrap(),
            &SentChain::new(vec![p.tst_ca.cert.clone()]),
            false
        )
        .is_err());
}

/// `GetRSAPublicKey()` and `PublicKey` of an RSA client certificate: what its private key
/// (imported from PEM in the expression) signs, the certificate's key verifies; an ECDSA
/// certificate has no RSA key.
#[test]
fn rsa_keys_of_client_certificates_verify_what_their_private_keys_sign() {
    let p = DemoPki::generate(KeyKind::Rsa2048).unwrap();
    let rsa_cert = Arc::new(Certificate::from_x509(p.valid.cert.clone()).unwrap());
    let key = String::from_utf8(p.valid.key_pem()).unwrap();
    let vars = [("key", Value::Str(key.as_str().into()))];
    let run = |expr: &str| eval_value(&rsa_cert, &vars, &format!("@({expr})"));
    let c = "context.Request.Certificate";
    assert_eq!(
        run(&format!("{c}.GetRSAPublicKey().KeySize")).unwrap(),
        "2048"
    );
    assert_eq!(
        run(&format!(
            "{c}.PublicKey.Oid.FriendlyName + \"/\" + {c}.PublicKey.Oid.Value"
        ))
        .unwrap(),
        "RSA/1.2.840.113549.1.1.1"
    );
    assert_eq!(
        run(&format!("{c}.GetRSAPrivateKey() == null")).unwrap(),
        "True"
    );
    let sign_and_verify = format!(
        r#"{{ var k = RSA.Create(); k.ImportFromPem((string)context.Variables["key"]); var d = Encoding.UTF8.GetBytes("challenge"); var s = k.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pss); return {c}.GetRSAPublicKey().VerifyData(d, s, HashAlgorithmName.SHA256, RSASignaturePadding.Pss) + "/" + RSACertificateExtensions.GetRSAPublicKey({c}).VerifyData(new byte[] {{1}}, s, HashAlgorithmName.SHA256, RSASignaturePadding.Pss); }}"#
    );
    assert_eq!(
        eval_value(&rsa_cert, &vars, &format!("@{sign_and_verify}")).unwrap(),
        "True/False"
    );
    // The SubjectPublicKeyInfo a certificate shows is the one its RSA key exports.
    assert_eq!(
        run(&format!(
            "Convert.ToBase64String({c}.PublicKey.ExportSubjectPublicKeyInfo()) == Convert.ToBase64String({c}.GetRSAPublicKey().ExportSubjectPublicKeyInfo())"
        ))
        .unwrap(),
        "True"
    );
    // An ECDSA certificate: no RSA key, and its key says so.
    assert_eq!(
        eval_for(
            &cert(&pki().valid),
            r#"context.Request.Certificate.GetRSAPublicKey() == null ? context.Request.Certificate.PublicKey.Oid.FriendlyName : "rsa""#
        )
        .unwrap(),
        "ECC"
    );
}

// ---- CRLs written by another implementation ----

/// A CRL made by the `openssl ca` command (a v1 CRL without extensions, the form its
/// defaults produce) revoking one client: read, signature checked, and applied by `Verify()`.
#[test]
fn crl_from_the_openssl_command_line_revokes() {
    use std::process::Command;
    let p = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
    let dir = std::env::temp_dir().join(format!("certgate-crl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    p.write(&dir, "pw").unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    let cnf = format!(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = {db}\ndefault_md = sha256\ndefault_crl_days = 7\n",
        db = dir.join("index.txt").display()
    );
    std::fs::write(dir.join("ca.cnf"), cnf).unwrap();
    let ca = |extra: &[&str]| {
        let out = Command::new("openssl")
            .arg("ca")
            .arg("-config")
            .arg(dir.join("ca.cnf"))
            .arg("-keyfile")
            .arg(dir.join("dev-intermediate-ca.key.pem"))
            .arg("-cert")
            .arg(dir.join("dev-intermediate-ca.pem"))
            .args(extra)
            .output()
            .expect("openssl on PATH (make deps installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let leaf = dir.join("dev-valid-client.pem");
    ca(&["-revoke", leaf.to_str().unwrap()]);
    let crl_path = dir.join("dev.crl.pem");
    ca(&["-gencrl", "-out", crl_path.to_str().unwrap()]);
    let pem = std::fs::read(&crl_path).unwrap();
    let crl = certgate_policy::Crl::from_pem_or_der(&pem).unwrap();
    assert_eq!(crl.revoked_count(), 1);
    assert!(crl.revokes(&p.valid.cert));
    assert!(crl.verify(&p.dev_ca.cert.public_key().unwrap()));
    let root_crl = certgate_policy::pki::crl(&p.root, &[], -1, 7).unwrap();
    let store = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![root_crl, crl],
    )
    .unwrap();
    let sent = SentChain::default();
    let valid = Certificate::from_x509(p.valid.cert.clone()).unwrap();
    let other = Certificate::from_x509(p.unregistered.cert.clone()).unwrap();
    assert!(matches!(
        store.verify(&valid, &sent, true),
        Err(TrustFailure::Revoked)
    ));
    assert!(store.verify(&other, &sent, true).is_ok());
    std::fs::remove_dir_all(&dir).ok();
}

/// Cached results share the trust store's parsed issuer instead of each holding a parsed copy
/// of the chain (which cost ~16 KiB per entry; bench/examples/cache_memory measures it).
#[test]
fn cached_results_share_the_issuer_of_the_trust_store() {
    let p = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
    let t = TrustStore::new(
        vec![p.root.cert.clone()],
        vec![p.dev_ca.cert.clone()],
        vec![],
    )
    .unwrap();
    let none = SentChain::default();
    let a = t
        .verify(
            &Certificate::from_x509(p.valid.cert.clone()).unwrap(),
            &none,
            false,
        )
        .unwrap();
    let b = t
        .verify(
            &Certificate::from_x509(p.unregistered.cert.clone()).unwrap(),
            &none,
            false,
        )
        .unwrap();
    assert!(Arc::ptr_eq(a.issuer().unwrap(), b.issuer().unwrap()));
    assert_eq!(a.depth, 3);
    let dev_not_after = Certificate::from_x509(p.dev_ca.cert.clone())
        .unwrap()
        .validity()
        .unwrap()
        .1;
    assert!(a.not_after.unwrap() <= dev_not_after);
}
