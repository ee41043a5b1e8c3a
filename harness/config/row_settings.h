// Settings that belong to one backend, kept in the backend's own type
// (backends/system/vm_config.h, backends/board/board_settings.h), so that
// the configuration's own types know none of them: a TargetSettings, or the
// Config itself, holds one value of each such type, made on first use. The
// row's keys store into it; the row's code reads it back by the same type.
#pragma once

#include <any>
#include <map>
#include <typeindex>
#include <typeinfo>

namespace xrun {

class RowSettings {
 public:
  // The value of type T, made as it starts on first use (a key storing).
  template <class T>
  T& get() {
    std::any& value = values_[std::type_index(typeid(T))];
    if (!value.has_value()) value = T{};
    return std::any_cast<T&>(value);
  }
  // The value of type T, or one as it starts when nothing set it.
  template <class T>
  const T& get() const {
    if (auto it = values_.find(std::type_index(typeid(T))); it != values_.end())
      return std::any_cast<const T&>(it->second);
    static const T kUnset{};
    return kUnset;
  }

 private:
  std::map<std::type_index, std::any> values_;
};

}  // namespace xrun
