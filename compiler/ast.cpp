// Facts about operators that the parser, the checker and the formatter share.
#include "ast.h"

namespace airlock::compiler::ast {

std::string_view operator_spelling(Operator op) {
  switch (op) {
    case Operator::kNot: return "!";
    case Operator::kNegate: return "-";
    case Operator::kMultiply: return "*";
    case Operator::kDivide: return "/";
    case Operator::kModulo: return "%";
    case Operator::kAdd: return "+";
    case Operator::kSubtract: return "-";
    case Operator::kLess: return "<";
    case Operator::kLessEqual: return "<=";
    case Operator::kGreater: return ">";
    case Operator::kGreaterEqual: return ">=";
    case Operator::kEqual: return "==";
    case Operator::kNotEqual: return "!=";
    case Operator::kIn: return "in";
    case Operator::kAnd: return "&&";
    case Operator::kOr: return "||";
    case Operator::kNone: break;
  }
  return "";
}

int binary_precedence(Operator op) {
  switch (op) {
    case Operator::kOr: return 2;
    case Operator::kAnd: return 3;
    case Operator::kLess:
    case Operator::kLessEqual:
    case Operator::kGreater:
    case Operator::kGreaterEqual:
    case Operator::kEqual:
    case Operator::kNotEqual:
    case Operator::kIn: return 4;
    case Operator::kAdd:
    case Operator::kSubtract: return 5;
    default: return 6;
  }
}

}  // namespace airlock::compiler::ast
