#!/usr/bin/env perl
# Turns a slice of the PostgreSQL server log (log_statement = 'all', stderr
# format with the default Debian log_line_prefix '%m [%p] %q%u@%d ') into the
# statements one database ran, with their bind parameters substituted as
# literals.
#
#   perl bench/pglog.pl DBNAME < log-slice > statements.sql
#
# Output: one statement per entry, each terminated by ";" on its own line
# (pgbench custom scripts and psql -f both read that). Statements that only
# manage the session (SET, SHOW, DISCARD, DEALLOCATE, empty) are dropped;
# BEGIN/COMMIT/ROLLBACK are kept, because the service pays for them too.
use strict;
use warnings;

my $db = shift @ARGV or die "usage: pglog.pl DBNAME < log\n";

# 1. Join continuation lines (multi-line messages: lines not starting with a
#    timestamp) onto the entry they belong to.
my @entries;
while (my $line = <STDIN>) {
    chomp $line;
    if ($line =~ /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/) {
        push @entries, $line;
    } elsif (@entries) {
        $line =~ s/^\t//;
        $entries[-1] .= "\n" . $line;
    }
}

# 2. Keep this database's statements; attach each DETAIL: parameters line to
#    the statement logged just before it by the same backend.
my @stmts;    # [pid, sql, params-hashref]
my %last_by_pid;
for my $e (@entries) {
    next unless $e =~ /^\S+ \S+ \S+ \[(\d+)\] \S*\@(\S+) (LOG|DETAIL):  (.*)$/s;
    my ($pid, $edb, $kind, $msg) = ($1, $2, $3, $4);
    next unless $edb eq $db;
    if ($kind eq 'LOG' && $msg =~ /^(?:statement|execute [^:]*): (.*)$/s) {
        my $s = [$pid, $1, {}];
        push @stmts, $s;
        $last_by_pid{$pid} = $s;
    } elsif ($kind eq 'DETAIL' && $msg =~ /^parameters: (.*)$/s && $last_by_pid{$pid}) {
        my $p = $1;
        while ($p =~ /\$(\d+) = (NULL|'(?:[^']|'')*')/g) {
            $last_by_pid{$pid}[2]{$1} = $2;
        }
    }
}

# 3. Substitute $n by its literal, highest number first ($10 before $1).
for my $s (@stmts) {
    my ($pid, $sql, $params) = @$s;
    next if $sql =~ /^\s*$/;
    next if $sql =~ /^\s*(SET|SHOW|RESET|DISCARD|DEALLOCATE)\b/i;
    $sql =~ s/\$(\d+)\b/exists $params->{$1} ? $params->{$1} : "\$$1"/ge;
    $sql =~ s/\s*;?\s*$//;
    print "$sql\n;\n";
}
