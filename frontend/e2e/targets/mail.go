package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail credentials the console's email notifier must present.
const (
	mailUser     = "alerts"
	mailPassword = "e2e-mail-password"
	// maxMessages bounds what the mailbox keeps: a run sends a handful.
	maxMessages = 200
)

// message is one mail the mailbox accepted, as GET /smtp/messages lists it.
type message struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	User string   `json:"user"`
	Data string   `json:"data"`
}

// mailbox is a real SMTP server (go-smtp) on loopback: the alert
// notifications of the e2e suite are sent to it over SMTP as to any mail
// server, with AUTH PLAIN (allowed without TLS on loopback).
type mailbox struct {
	srv *smtp.Server
	mu  sync.Mutex
	got []message
}

func startMailbox() (*mailbox, string, error) {
	box := &mailbox{}
	box.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailSession{box: box}, nil
	}))
	box.srv.Domain = "mail.e2e.test"
	box.srv.AllowInsecureAuth = true
	box.srv.ReadTimeout, box.srv.WriteTimeout = 10*time.Second, 10*time.Second
	box.srv.MaxMessageBytes = 1 << 20
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	go func() { _ = box.srv.Serve(l) }()
	return box, l.Addr().String(), nil
}

func (b *mailbox) close() { _ = b.srv.Close() }

// serveMessages answers GET /smtp/messages with every accepted mail.
func (b *mailbox) serveMessages(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	out := append([]message{}, b.got...)
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type mailSession struct {
	box *mailbox
	msg message
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != mailUser || pass != mailPassword {
			return errors.New("bad credentials")
		}
		s.msg.User = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.msg.User == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(data)
	s.box.mu.Lock()
	if len(s.box.got) < maxMessages {
		s.box.got = append(s.box.got, s.msg)
	}
	s.box.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.msg = message{User: s.msg.User} }
func (s *mailSession) Logout() error { return nil }
