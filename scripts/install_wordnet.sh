#!/usr/bin/env bash
# Install WordNet 3.0 for nltk without the network beyond apt (no nltk.download).
#
# Usage: scripts/install_wordnet.sh [NLTK_DATA_DIR]
#   The target is $1, else $NLTK_DATA, else $HOME/nltk_data. Afterwards run with
#   NLTK_DATA=<that dir> so nltk finds <dir>/corpora/wordnet.
#
# Debian's wordnet-base and wordnet-sense-index hold the WordNet 3.0 database files;
# nltk also reads a `lexnames` file (the 45 lexicographer files), which Debian does
# not ship, so it is written here. Safe to run again.
set -euo pipefail

target="${1:-${NLTK_DATA:-$HOME/nltk_data}}"
src=/usr/share/wordnet
dest="$target/corpora/wordnet"

if [[ ! -f "$src/data.noun" || ! -f "$src/index.sense" ]]; then
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
        wordnet-base wordnet-sense-index
fi

mkdir -p "$dest"
for f in "$src"/data.* "$src"/index.* "$src"/*.exc "$src"/cntlist "$src"/cntlist.rev; do
    if [[ -f "$f" ]]; then cp -f "$f" "$dest/"; fi
done

# WordNet 3.0 lexicographer files: number, name, syntactic category (1 n, 2 v, 3 adj, 4 adv).
lexnames=(
    adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
    noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
    noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant
    noun.possession noun.process noun.quantity noun.relation noun.shape noun.state
    noun.substance noun.time verb.body verb.change verb.cognition verb.communication
    verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion
    verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl
)
: > "$dest/lexnames"
for i in "${!lexnames[@]}"; do
    name="${lexnames[$i]}"
    case "$name" in
        noun.*) cat=1 ;;
        verb.*) cat=2 ;;
        adj.*) cat=3 ;;
        adv.*) cat=4 ;;
    esac
    printf '%02d\t%s\t%d\n' "$i" "$name" "$cat" >> "$dest/lexnames"
done

echo "WordNet 3.0 for nltk installed in $dest (set NLTK_DATA=$target)"
