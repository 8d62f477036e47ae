#!/usr/bin/env perl
# Summarises the plans of one operation's statements as Markdown, for
# BENCHMARKS.md:
#
#   perl bench/plans.pl [--table-only] explain-OP.txt pgbench-OP.sql \
#        service-plans-OP.txt service-plans-OP-first.txt
#
# explain-OP.txt: psql -e output of EXPLAIN (ANALYZE, BUFFERS) of every
# distinct statement of the operation's 1st and 8th request, with parameters
# as literals, each preceded by "---- statement" (run.sh writes it).
# pgbench-OP.sql: the 8th request's statements (the steady state).
# service-plans-*.txt: the auto_explain entries of the 8th and the 1st request
# inside the service (prepared statements, bind parameters). Statements are
# matched on their text with literals and $n placeholders blanked out.
# Prints a table (statement, when it runs, time, scans, rows removed by
# filter, buffers) and the trimmed plans of the statements on "clients".
use strict;
use warnings;

my $table_only = 0;
if (@ARGV && $ARGV[0] eq '--table-only') { $table_only = 1; shift @ARGV; }
my ($explain, $steady_sql, $service, $service_first) = @ARGV;
die "usage: plans.pl [--table-only] explain.txt steady.sql service-plans.txt service-plans-first.txt\n"
    unless $explain && $steady_sql;

sub key {    # statement text with every literal and placeholder blanked
    my $s = shift;
    $s =~ s/E?'(?:[^']|'')*'/?/g;
    $s =~ s/\$\d+/?/g;
    $s =~ s/\s+/ /g;
    $s =~ s/\?(?:, \?)+/?/g;
    $s =~ s/^\s+|\s+$//g;
    return $s;
}

sub short_sql {
    my $s = shift;
    $s =~ s/\s+/ /g;
    $s =~ s/SELECT (?:(?!\bFROM\b).)*? FROM /SELECT … FROM /g;
    $s =~ s/IN \(((?:'?[^,()']*'?, ){3,}'?[^,()']*'?)\)/'IN (' . (scalar(split m{, }, $1)) . ' values)'/ge;
    $s =~ s/"(\w+)"\."(\w+)"/$2/g;
    $s =~ s/"(\w+)"/$1/g;
    $s =~ s/ ESCAPE E'\\\\'//g;
    $s = substr($s, 0, 230) . " …" if length($s) > 230;
    $s =~ s/\|/\\|/g;
    return $s;
}

sub summary {    # plan lines -> scans, rows removed, buffers hit/read
    my @lines = @_;
    my (%seen, @scans);
    my ($removed, $hit, $read) = (0, 0, 0);
    my $top_buffers_done = 0;
    for my $l (@lines) {
        if ($l =~ /((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: Backward)?) (?:using|on) (\S+)/) {
            my $k = "$1 $2";
            $k =~ s/ using / on /;
            push @scans, $k unless $seen{$k}++;
        }
        $removed += $1 while $l =~ /Rows Removed by (?:Filter|Index Recheck): (\d+)/g;
        if (!$top_buffers_done && $l =~ /^\s*Buffers: shared(.*)/) {
            my $b = $1;
            $hit  = $1 if $b =~ /hit=(\d+)/;
            $read = $1 if $b =~ /read=(\d+)/;
            $top_buffers_done = 1;
        }
    }
    return (join(", ", @scans) || "—", $removed, $hit + $read);
}

# explain-OP.txt
my @ex;    # {sql, lines, time}
{
    open my $f, '<', $explain or die "$explain: $!";
    my $cur;
    my $want_sql = 0;
    while (my $l = <$f>) {
        chomp $l;
        if ($l =~ /^---- statement/) { $cur = { sql => '', lines => [], time => undef }; push @ex, $cur; $want_sql = 1; next }
        next unless $cur;
        if ($want_sql) {    # psql -e echoes the statement, up to the result's header
            if ($l =~ /^\s*QUERY PLAN\s*$/) { $want_sql = 0; next }
            $l =~ s/^EXPLAIN \(ANALYZE, BUFFERS\) //;
            $l =~ s/;$//;
            $cur->{sql} .= ($cur->{sql} eq '' ? '' : ' ') . $l;
            next;
        }
        next if $l =~ /^\s*QUERY PLAN\s*$/ || $l =~ /^-+$/ || $l =~ /^\(\d+ rows?\)$/ || $l =~ /^\s*$/;
        if ($l =~ /Execution Time: ([\d.]+) ms/) { $cur->{time} = $1; }
        push @{ $cur->{lines} }, $l;
    }
}
my %steady;
{
    open my $f, '<', $steady_sql or die "$steady_sql: $!";
    local $/ = "\n;\n";
    while (my $st = <$f>) { $st =~ s/\n;\n$//; $steady{ key($st) } = 1; }
}
sub read_plans {    # auto_explain entries -> { key => {time, lines} }, first occurrence wins
    my ($file, $into, $label) = @_;
    return unless $file && -s $file;
    open my $f, '<', $file or die "$file: $!";
    my $cur;
    while (my $l = <$f>) {
        chomp $l;
        if ($l =~ /LOG:  duration: ([\d.]+) ms  plan:/) { $cur = { time => $1, lines => [], sql => '', from => $label }; next }
        next unless $cur;
        $l =~ s/^\t//;
        if ($l =~ /^Query Text: (.*)/) {
            $cur->{sql} = $1;
            my $k = key($1);
            $into->{$k} = $cur unless $into->{$k};
            next;
        }
        push @{ $cur->{lines} }, $l if $l =~ /\S/;
    }
}
my %sv;
read_plans($service, \%sv, "8th request");
read_plans($service_first, \%sv, "1st request");

print "| # | statement | runs | EXPLAIN ANALYZE, literal values | in the service (prepared, auto_explain) |\n";
print "|---:|---|---|---|---|\n";
for my $i (0 .. $#ex) {
    my $e = $ex[$i];
    my $k = key($e->{sql});
    my ($scans, $removed, $bufs) = summary(@{ $e->{lines} });
    my $left = sprintf("%s ms; %s%s; %d buffers", $e->{time} // '?', $scans,
        $removed ? "; **$removed rows removed**" : "", $bufs);
    my $right = "—";
    if (my $s = $sv{$k}) {
        my ($sscans, $sremoved, $sbufs) = summary(@{ $s->{lines} });
        my $generic = (join("\n", @{ $s->{lines} }) =~ /\$\d/) ? " (generic plan)" : "";
        $right = sprintf("%s ms%s; %s%s; %d buffers", $s->{time}, $generic, $sscans,
            $sremoved ? "; **$sremoved rows removed**" : "", $sbufs);
    }
    my $runs = $steady{$k} ? "every request" : "1st request only";
    printf "| %d | `%s` | %s | %s | %s |\n", $i + 1, short_sql($e->{sql}), $runs, $left, $right;
}
print "\n";

# Trimmed plans of the statements on clients.
exit 0 if $table_only;
for my $i (0 .. $#ex) {
    my $e = $ex[$i];
    next unless $e->{sql} =~ /FROM "clients"/;
    printf "Statement %d, EXPLAIN (ANALYZE, BUFFERS) with literal values:\n\n```\n", $i + 1;
    for my $l (@{ $e->{lines} }) {
        $l = substr($l, 0, 180) . " …" if length($l) > 180;
        print "$l\n";
    }
    print "```\n\n";
    if (my $s = $sv{ key($e->{sql}) }) {
        printf "Statement %d in the service (auto_explain, %s, %s ms):\n\n```\n", $i + 1, $s->{from}, $s->{time};
        for my $l (@{ $s->{lines} }) {
            $l = substr($l, 0, 180) . " …" if length($l) > 180;
            print "$l\n";
        }
        print "```\n\n";
    }
}
