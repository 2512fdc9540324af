// Package labca is the lab's certificate authority: a CA certificate made
// once per lab directory, and the server certificates it issues to the lab's
// agents for STARTTLS and implicit TLS, so that a class can trust the lab
// (import one file) and watch a client verify a server.
//
// A lab directory keeps:
//
//	ca.pem            the CA certificate (give it to curl, openssl, Thunderbird)
//	ca-key.pem        its private key (0600)
//	certs/HOST.pem    a leaf certificate for HOST, and certs/HOST-key.pem
//
// A lab restarted on the same directory keeps its CA, so a class imports it
// once.
//
// # Standards
//
// RFC 5280 (X.509 certificates: basic constraints, key usage, subject
// alternative names), RFC 8446 (TLS 1.3), RFC 8314 and RFC 8997 (TLS 1.2 or
// newer for mail submission and access).
//
// # Security
//
// This is a teaching CA: its key lies on disk next to the lab, readable by
// the user running it. Open refuses a key file that others can read, and
// writes keys 0600. The CA may only sign leaf certificates (MaxPathLen 0);
// leaves are valid for about a year (at most 398 days, as browsers and mail
// clients accept). Whoever holds ca-key.pem can make certificates that
// every machine trusting the lab CA accepts: do not import it where you
// would mind, and remove it when the class ends.
//
// # Limits
//
// Host names are used as file names: a name with characters other than
// letters, digits, '.', '-' and '_' is refused.
package labca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Validity of the certificates.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour // under the 398 days clients accept
	// renewBefore: a cached leaf this close to its end is issued again.
	renewBefore = 30 * 24 * time.Hour
)

// File names inside the CA's directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
	CertsDir = "certs"
)

// CA is a lab certificate authority. It is safe for concurrent use.
type CA struct {
	dir  string
	now  func() time.Time
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte

	mu    sync.Mutex
	cache map[string]*tls.Certificate // by host and addresses
}

// Open returns the CA kept in dir (dir/ca.pem and dir/ca-key.pem), creating
// dir and a new CA when there is none. now is the clock (nil means
// time.Now). It refuses a key file readable by group or others, a
// certificate that is not a CA, and a key that does not match it.
func Open(dir string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	c := &CA{dir: dir, now: now, cache: make(map[string]*tls.Certificate)}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, err := os.ReadFile(certPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, kerr := os.Stat(keyPath); kerr == nil {
			return nil, fmt.Errorf("labca: %s exists without %s: remove it or restore the certificate", keyPath, certPath)
		}
		if err := c.create(); err != nil {
			return nil, err
		}
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("labca: %w", err)
	}
	keyPEM, err := readPrivate(keyPath)
	if err != nil {
		return nil, err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("labca: %s: %w", certPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("labca: %s is not a CA certificate", certPath)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("labca: %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("labca: %s does not match %s", keyPath, certPath)
	}
	c.cert, c.key, c.pem = cert, key, certPEM
	return c, nil
}

// readPrivate reads a key file, refusing one that others may read (on
// systems with Unix permissions).
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("labca: %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	return b, nil
}

// create makes a new CA and writes it to c.dir.
func (c *CA) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := c.now()
	name := pkix.Name{CommonName: "maillab lab CA " + hex.EncodeToString(id), Organization: []string{"maillab"}}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// RFC 5280 section 4.2.1.9: this CA signs leaves only.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	keyPEM, err := keyToPEM(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	// The key first: a certificate without its key is useless, a key
	// without its certificate is refused by Open rather than replaced.
	if err := writeFile(filepath.Join(c.dir, KeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.dir, CertFile), certPEM, 0o644); err != nil {
		return err
	}
	c.cert, c.key, c.pem = cert, key, certPEM
	return nil
}

// writeFile writes b to path atomically (a temporary file renamed), with
// mode perm.
func writeFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, does nothing
	if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("labca: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("labca: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("labca: %w", err)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	// RFC 5280 section 4.1.2.2: positive, at most 20 octets.
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyToPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want ECDSA", k)
	}
	return ek, nil
}

// Dir returns the directory the CA is kept in.
func (c *CA) Dir() string { return c.dir }

// CertFile returns the path of the CA certificate (dir/ca.pem).
func (c *CA) CertFile() string { return filepath.Join(c.dir, CertFile) }

// Certificate returns the CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertPEM returns the CA certificate, PEM-encoded: what a class imports.
func (c *CA) CertPEM() []byte { return slices.Clone(c.pem) }

// Pool returns a new pool holding only the CA certificate.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// Issue returns a certificate for host, with its addresses as IP subject
// alternative names, signed by the CA, valid for LeafValidity, for server
// and client authentication. It is kept in memory and under
// dir/certs/HOST.pem and HOST-key.pem, and reused while it names the same
// addresses and has more than 30 days to live.
func (c *CA) Issue(host string, ips ...netip.Addr) (tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !validHost(host) {
		return tls.Certificate{}, fmt.Errorf("labca: issue: bad host name %q", host)
	}
	ips = slices.Clone(ips)
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	key := host
	for _, ip := range ips {
		key += " " + ip.String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if tc, ok := c.cache[key]; ok && c.fresh(tc.Leaf, now) {
		return *tc, nil
	}
	certPath := filepath.Join(c.dir, CertsDir, host+".pem")
	keyPath := filepath.Join(c.dir, CertsDir, host+"-key.pem")
	if tc, err := c.loadLeaf(certPath, keyPath); err == nil && c.fresh(tc.Leaf, now) && sameNames(tc.Leaf, host, ips) {
		c.cache[key] = tc
		return *tc, nil
	}
	tc, certPEM, keyPEM, err := c.newLeaf(host, ips, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil {
		return tls.Certificate{}, fmt.Errorf("labca: %w", err)
	}
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	c.cache[key] = tc
	return *tc, nil
}

// fresh reports whether leaf was signed by this CA and lives long enough.
func (c *CA) fresh(leaf *x509.Certificate, now time.Time) bool {
	return leaf != nil && leaf.CheckSignatureFrom(c.cert) == nil &&
		!now.Before(leaf.NotBefore) && now.Add(renewBefore).Before(leaf.NotAfter)
}

func sameNames(leaf *x509.Certificate, host string, ips []netip.Addr) bool {
	if !slices.Equal(leaf.DNSNames, []string{host}) || len(leaf.IPAddresses) != len(ips) {
		return false
	}
	for i, ip := range leaf.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok || a.Unmap() != ips[i] {
			return false
		}
	}
	return true
}

func (c *CA) loadLeaf(certPath, keyPath string) (*tls.Certificate, error) {
	keyPEM, err := readPrivate(keyPath)
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tc, nil
}

func (c *CA) newLeaf(host string, ips []netip.Addr, now time.Time) (*tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("labca: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		// RFC 5280 section 4.2.1.6: clients match the SANs, not the CN.
		DNSNames:              []string{host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(LeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), crypto.Signer(c.key))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("labca: issue %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("labca: %w", err)
	}
	keyPEM, err := keyToPEM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The chain a server sends: the leaf, then the CA (RFC 8446 section
	// 4.4.2 lets the root be left out; sending it helps tools show it).
	certPEM = append(certPEM, c.pem...)
	tc := &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: leaf}
	return tc, certPEM, keyPEM, nil
}

// validHost accepts a host name usable as a file name: letters, digits,
// '.', '-', '_', not starting with '.' or '-'.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '.' || h[0] == '-' || strings.Contains(h, "..") {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// ServerConfig returns a TLS configuration for a server named host (and
// reachable at ips), with a certificate from Issue. TLS 1.2 is the minimum
// (RFC 8997; RFC 9051 section 11.1).
func (c *CA) ServerConfig(host string, ips ...netip.Addr) (*tls.Config, error) {
	cert, err := c.Issue(host, ips...)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// ClientConfig returns a TLS configuration for a client of serverName that
// trusts the lab CA only.
func (c *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		RootCAs:    c.Pool(),
	}
}
