// Command targets runs the discovery targets of the console's end-to-end
// tests: a real Consul agent and a real kube-apiserver (with etcd) on
// loopback ports, seeded with the services the upstream pickers browse.
//
//	go run ./frontend/e2e/targets [-for 15m]
//
// Once both answer it prints one JSON line on stdout (see info) and serves
// a small control API on loopback, so the tests can take Consul away and
// bring it back:
//
//	POST /consul/stop    kill the agent at once, as an outage looks
//	POST /consul/start   start it again (same address) and seed it again
//	GET  /smtp/messages  the mails the SMTP server (Smtp) accepted
//
// It stops both servers on SIGINT/SIGTERM, when stdin (if a pipe) is
// closed, when its parent process goes away, or after -for; a stuck
// shutdown is cut off after a few seconds.
//
// The servers come from the tools cache that `make tools` fills; when one
// is missing it exits with status 1 and says which.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/routedeck/routedeck/internal/testservers"
)

// info is the line printed once the servers are up and seeded.
type info struct {
	// Consul is the agent's HTTP address (HOST:PORT).
	Consul string `json:"consul"`
	// Kubeconfig is a kubeconfig file for the API server's admin, with
	// the single context KubeContext.
	Kubeconfig  string `json:"kubeconfig"`
	KubeContext string `json:"kubeContext"`
	// Control is the base URL of the control API.
	Control string `json:"control"`
	// SMTP is the mail server's address (HOST:PORT); it takes mail from
	// user "alerts" (password mailPassword) and lists it on the control
	// API.
	SMTP string `json:"smtp"`
}

// shutdownGrace bounds the whole shutdown: the servers get a few seconds
// each to stop, and the process exits regardless after this.
const shutdownGrace = 20 * time.Second

func main() {
	limit := flag.Duration("for", 15*time.Minute, "stop after this long")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(*limit, log); err != nil {
		fmt.Fprintln(os.Stderr, "targets:", err)
		os.Exit(1)
	}
}

func run(limit time.Duration, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, limit, fmt.Errorf("ran for %s", limit))
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchParent(ctx, cancel)

	env, err := newEnv()
	if err != nil {
		return err
	}
	// However run ends, the servers go with it, within shutdownGrace.
	defer func() {
		t := time.AfterFunc(shutdownGrace, func() {
			fmt.Fprintln(os.Stderr, "targets: shutdown took too long, exiting")
			os.Exit(1)
		})
		defer t.Stop()
		env.close()
	}()

	var (
		wg     sync.WaitGroup
		consul *testservers.Consul
		kube   *testservers.Kube
		errs   [2]error
	)
	// Both start in parallel: the API server takes the longer.
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = env.try(func() { consul = testservers.StartConsul(env) })
		if errs[0] == nil {
			errs[0] = seedConsul(consul.HTTPAddr)
		}
	}()
	go func() {
		defer wg.Done()
		errs[1] = env.try(func() { kube = testservers.StartKube(env) })
		if errs[1] == nil {
			errs[1] = seedKube(ctx, kube)
		}
	}()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}

	mail, mailAddr, err := startMailbox()
	if err != nil {
		return fmt.Errorf("smtp listener: %w", err)
	}
	defer mail.close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	srv := &http.Server{Handler: control(env, consul, mail, log), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	line, _ := json.Marshal(info{
		Consul:      consul.HTTPAddr,
		Kubeconfig:  kube.Kubeconfig,
		KubeContext: testservers.KubeContext,
		Control:     "http://" + l.Addr().String(),
		SMTP:        mailAddr,
	})
	fmt.Println(string(line))
	log.Info("targets: consul and kube-apiserver are up", "consul", consul.HTTPAddr, "kube", kube.Host)

	go watchStdin(cancel)
	<-ctx.Done()
	why := context.Cause(ctx)
	if errors.Is(why, context.Canceled) {
		// Only the signal context cancels without a cause of its own.
		why = errors.New("interrupted or terminated")
	}
	log.Info("targets: stopping", "why", why)
	return nil
}

// control serves the control API. Requests run one at a time: a stop
// racing a start would leave the agent in either state.
func control(env *env, consul *testservers.Consul, mail *mailbox, log *slog.Logger) http.Handler {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("GET /smtp/messages", mail.serveMessages)
	mux.HandleFunc("POST /consul/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		consul.Stop()
		log.Info("targets: consul stopped")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /consul/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		err := env.try(consul.Start)
		if err == nil {
			// A dev agent forgets its catalog when it stops.
			err = seedConsul(consul.HTTPAddr)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		log.Info("targets: consul started again")
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// seedConsul registers service payments: two instances tagged v2, the
// first with a passing check, the second with a failing one.
func seedConsul(addr string) error {
	client, err := consulapi.NewClient(&consulapi.Config{Address: addr})
	if err != nil {
		return fmt.Errorf("consul client: %w", err)
	}
	instances := []struct {
		id, address, status string
	}{
		{"payments-1", "10.3.0.1", consulapi.HealthPassing},
		{"payments-2", "10.3.0.2", consulapi.HealthCritical},
	}
	for _, in := range instances {
		reg := &consulapi.AgentServiceRegistration{
			ID: in.id, Name: "payments", Tags: []string{"v2"}, Address: in.address, Port: 9000,
			// A long TTL: the check keeps the status it is registered
			// with for the whole run.
			Checks: consulapi.AgentServiceChecks{{CheckID: in.id + "-ttl", TTL: "1h", Status: in.status}},
		}
		if err := client.Agent().ServiceRegister(reg); err != nil {
			return fmt.Errorf("register consul service %s: %w", in.id, err)
		}
		// An agent started again on its data directory restores its TTL
		// checks as critical, and registering them again keeps that
		// state: set it explicitly.
		if err := client.Agent().UpdateTTL(in.id+"-ttl", "seeded", in.status); err != nil {
			return fmt.Errorf("set consul check %s-ttl: %w", in.id, err)
		}
	}
	return nil
}

// seedKube creates namespace shop with Service cart (port 8080, named
// http) and one EndpointSlice with two ready endpoints and one not ready.
// The API server runs no controllers, so the slice stays as written.
func seedKube(ctx context.Context, k *testservers.Kube) error {
	c, err := kubernetes.NewForConfig(k.Config())
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace shop: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := c.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service shop/cart: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: "cart"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.4.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.4.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.4.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
	}
	if _, err := c.DiscoveryV1().EndpointSlices("shop").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice shop/cart-1: %w", err)
	}
	return nil
}

// watchStdin cancels when stdin, if it is a pipe, reaches its end: the
// parent holds the other end, so it closes when the parent exits, however
// it exits. Any other stdin (a terminal, /dev/null) is left alone.
func watchStdin(cancel context.CancelCauseFunc) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel(errors.New("stdin closed"))
}

// watchParent cancels when the parent process is gone (this process is
// handed to another parent), in case nothing else tells it.
func watchParent(ctx context.Context, cancel context.CancelCauseFunc) {
	parent := os.Getppid()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				cancel(errors.New("parent process exited"))
				return
			}
		}
	}
}
