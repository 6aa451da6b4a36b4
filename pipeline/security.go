package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// connection holds what every Kafka client of the service needs to reach
// the brokers: the dialer of readers and consumer groups and the transport
// of writers share one TLS config and one SASL mechanism.
type connection struct {
	dialer    *kafka.Dialer
	transport *kafka.Transport
}

func newConnection(cfg KafkaConfig) (*connection, error) {
	tlsConfig, err := newTLSConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	mechanism, err := newSASLMechanism(cfg.SASL)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.DialTimeout)
	return &connection{
		dialer: &kafka.Dialer{
			ClientID:      cfg.ClientID,
			Timeout:       timeout,
			DualStack:     true,
			TLS:           tlsConfig,
			SASLMechanism: mechanism,
		},
		transport: &kafka.Transport{
			ClientID:    cfg.ClientID,
			DialTimeout: timeout,
			TLS:         tlsConfig,
			SASL:        mechanism,
		},
	}, nil
}

func newTLSConfig(cfg TLSConfig) (*tls.Config, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("invalid kafka.tls.ca_file %s: no PEM certificate found", cfg.CAFile)
		}
		config.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load the client certificate %s with key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

func newSASLMechanism(cfg SASLConfig) (sasl.Mechanism, error) {
	if cfg.Mechanism == "" {
		return nil, nil
	}
	password, err := cfg.SASLPassword()
	if err != nil {
		return nil, err
	}
	switch cfg.Mechanism {
	case "PLAIN":
		return plain.Mechanism{Username: cfg.Username, Password: password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, cfg.Username, password)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, cfg.Username, password)
	default:
		panic("BUG: Validate accepted SASL mechanism " + cfg.Mechanism)
	}
}

// errFatalConnection marks connection errors that retrying cannot fix:
// rejected credentials and TLS certificate problems.
var errFatalConnection = errors.New("fatal connection error")

// checkBrokers connects to the bootstrap brokers until a metadata request
// succeeds. Rejected credentials and certificate errors return at
// once, wrapped in errFatalConnection, so a misconfigured service exits with
// a clear message instead of retrying forever. Unreachable brokers are
// retried until ctx ends, because they may be starting.
func checkBrokers(ctx context.Context, cfg KafkaConfig, conn *connection, log *rateLimitedLogger) error {
	client := &kafka.Client{Addr: kafka.TCP(cfg.Hosts...), Timeout: time.Duration(cfg.DialTimeout), Transport: conn.transport}
	backoff := 500 * time.Millisecond
	for {
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		if err == nil {
			return nil
		}
		if isFatalConnectionError(err) {
			return fmt.Errorf("%w: cannot connect to brokers %v: %w; check kafka.tls and kafka.sasl", errFatalConnection, cfg.Hosts, err)
		}
		log.Warn("cannot reach the brokers, retrying", "hosts", cfg.Hosts, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func isFatalConnectionError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	return errors.Is(err, kafka.SASLAuthenticationFailed) ||
		errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.IllegalSASLState) ||
		errors.As(err, &unknownAuthority) ||
		errors.As(err, &hostname) ||
		errors.As(err, &invalid) ||
		errors.As(err, &verification) ||
		errors.As(err, &record)
}
