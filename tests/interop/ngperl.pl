#!/usr/bin/perl
# Drives rtpgate with rtpengine's own Perl client module, NGCP::Rtpengine (Debian rtpengine-utils).
#
#   perl ngperl.pl udp HOST PORT STEPS_JSON
#   perl ngperl.pl http URL STEPS_JSON        (URL: http://HOST:PORT/ng)
#
# STEPS_JSON is a list of ng dictionaries sent one after the other with NGCP::Rtpengine->req
# (which adds the cookie, bencodes, strips the cookie from the reply, decodes it and dies on
# result "error").  Prints one JSON line: a list of {"reply": {...}} or {"error": "..."}.
#
# The 10.5 module talks UDP only (HTTP arrived upstream later, through LWP).  For /ng it is
# given a socket object whose send() POSTs the datagram and whose recv() returns the HTTP body:
# everything ng about the exchange is still done by NGCP::Rtpengine itself.
use strict;
use warnings;
use JSON;
use NGCP::Rtpengine;

package HttpNgSocket;
use HTTP::Tiny;

sub new {
	my ($class, $url) = @_;
	return bless { url => $url, http => HTTP::Tiny->new(timeout => 5), reply => undef }, $class;
}

sub send {
	my ($self, $packet, $flags) = @_;
	my $res = $self->{http}->post($self->{url}, { content => $packet,
		headers => { 'Content-Type' => 'application/x-rtpengine-ng' } });
	die "HTTP $res->{status}: $res->{content}" unless $res->{success};
	$self->{reply} = $res->{content};
	return length($packet);
}

sub recv {
	my $self = shift;
	$_[0] = $self->{reply};
	return 1;
}

package main;

my $mode = shift @ARGV;
my $engine;
if ($mode eq 'udp') {
	my ($host, $port) = splice(@ARGV, 0, 2);
	$engine = NGCP::Rtpengine->new($host, $port);
	$engine->{socket}->timeout(5);
} elsif ($mode eq 'http') {
	$engine = NGCP::Rtpengine->new(HttpNgSocket->new(shift @ARGV));
} else {
	die "usage: $0 udp HOST PORT STEPS | http URL STEPS\n";
}
my $steps = decode_json(shift @ARGV);
my @results;
for my $step (@$steps) {
	my $reply = eval { $engine->req($step) };
	push @results, defined($reply) ? { reply => $reply } : { error => "$@" };
}
print encode_json(\@results), "\n";
