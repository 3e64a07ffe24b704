/* Internals shared by the generator's files (not part of the public API).
 *
 * names.c: plausible artist, track and release names built from syllable and word
 * tables in four "languages" (English, European with diacritics, Russian in Cyrillic,
 * Japanese kana), chosen by a 64-bit hash, so a name needs no storage and is the same
 * on every run. Case mapping and a collision key cover exactly the characters the
 * tables use.
 */
#ifndef SR_GEN_IMPL_H
#define SR_GEN_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Every name fits in this many bytes, NUL included (disambiguator too). */
#define SR__NAME_MAX 256

enum { SR__LANG_EN, SR__LANG_EU, SR__LANG_RU, SR__LANG_JA, SR__LANG_COUNT };

/* Name generators: write a capitalised UTF-8 name for hash h in language lang into out
 * (SR__NAME_MAX bytes, NUL-terminated); return its length (< SR__NAME_MAX - 16, so a
 * disambiguator always fits). Names never contain digits, control characters or
 * parentheses. */
size_t sr__name_artist(uint64_t h, int lang, char *out);
size_t sr__name_track(uint64_t h, int lang, char *out);
size_t sr__name_release(uint64_t h, int lang, char *out);

/* Case mapping in place over the characters the tables use (ASCII, Latin-1
 * letters, Cyrillic); other bytes are left alone. Lengths do not change. */
void sr__name_lower(char *s, size_t n);
void sr__name_upper(char *s, size_t n);

/* A 64-bit key of the name's skeleton: lowercase, diacritics of Latin-1 letters
 * stripped, ASCII punctuation and spaces dropped, a leading "the" dropped. Two names
 * that any reasonable normaliser would merge get the same key. */
uint64_t sr__name_key(const char *s, size_t n);

#endif
