// Shell-like word splitting without a shell; see shell_words.hpp.
#include "probe/util/shell_words.hpp"

#include <nlohmann/json.hpp>

#include "probe/util/strings.hpp"

namespace probe::util {
namespace {

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

std::optional<std::vector<std::string>> json_words(std::string_view text, std::string* error) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    *error = "starts with '[' but is not a JSON array of strings";
    return std::nullopt;
  }
  std::vector<std::string> words;
  for (const nlohmann::json& item : parsed) {
    if (!item.is_string()) {
      *error = "starts with '[' but is not a JSON array of strings";
      return std::nullopt;
    }
    words.push_back(item.get<std::string>());
  }
  return words;
}

// Appends the '...' quoted text starting at `text[i]` (the quote) to `word`; returns the index
// after the closing quote, or npos when there is none.
std::size_t single_quoted(std::string_view text, std::size_t i, std::string& word) {
  const std::size_t end = text.find('\'', i + 1);
  if (end == std::string_view::npos) {
    return end;
  }
  word.append(text.substr(i + 1, end - i - 1));
  return end + 1;
}

// The same for "...": a backslash escapes only " \\ $ ` and a newline (which it removes).
std::size_t double_quoted(std::string_view text, std::size_t i, std::string& word) {
  for (++i; i < text.size() && text[i] != '"'; ++i) {
    const bool escape = text[i] == '\\' && i + 1 < text.size() &&
                        std::string_view("\"\\$`\n").find(text[i + 1]) != std::string_view::npos;
    if (escape) {
      ++i;
    }
    if (!(escape && text[i] == '\n')) { // backslash-newline continues the line
      word += text[i];
    }
  }
  return i < text.size() ? i + 1 : std::string_view::npos;
}

// Ends the word being built, if any.
void finish_word(std::vector<std::string>& words, std::string& word, bool& in_word) {
  if (in_word) {
    words.push_back(std::move(word));
    word.clear();
    in_word = false;
  }
}

} // namespace

std::optional<std::vector<std::string>> split_shell_words(std::string_view text,
                                                          std::string* error) {
  if (!trim(text).empty() && trim(text).front() == '[') {
    return json_words(trim(text), error);
  }
  std::vector<std::string> words;
  std::string word;
  bool in_word = false; // '' and "" make a word even when empty
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (blank(c)) {
      finish_word(words, word, in_word);
      ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      i = c == '\'' ? single_quoted(text, i, word) : double_quoted(text, i, word);
      if (i == std::string_view::npos) {
        *error = std::string("unterminated ") + c + " quote";
        return std::nullopt;
      }
      in_word = true;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        *error = "ends with a lone backslash";
        return std::nullopt;
      }
      if (text[i + 1] != '\n') { // backslash-newline continues the line
        word += text[i + 1];
        in_word = true;
      }
      i += 2;
      continue;
    }
    word += c;
    in_word = true;
    ++i;
  }
  finish_word(words, word, in_word);
  return words;
}

} // namespace probe::util
