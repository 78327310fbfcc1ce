// The Airlock policy language (see LANGUAGE.md): policy files, test blocks and CEL expressions.
//
// Expressions are parsed flat: an operand is `prefix* primary selector*` and a binary expression is a
// list of operands and operators. compiler/parser.cpp applies CEL's precedence with an explicit stack,
// so neither ANTLR nor the AST builder recurses per operator. Only brackets nest, and parser.cpp
// rejects bracket nesting deeper than CompileLimits::max_nesting_depth before parsing.
grammar Airlock;

// ---- Policy files ----

file : (policyDecl | testDecl)* EOF ;

expressionOnly : expr EOF ;

policyDecl : POLICY name=STRING LBRACE policyMember* RBRACE ;

policyMember
  : descriptionClause
  | appliesClause
  | whenClause
  | letDecl
  | ruleDecl
  | otherwiseDecl
  ;

descriptionClause : DESCRIPTION STRING ;
appliesClause : APPLIES TO IDENT (COMMA IDENT)* ;
whenClause : WHEN expr ;
letDecl : LET IDENT ASSIGN expr ;
ruleDecl : RULE IDENT LBRACE effect ruleClause* RBRACE ;
ruleClause : (WHEN | UNLESS | BECAUSE) expr ;
otherwiseDecl : OTHERWISE effect (BECAUSE expr)? ;

// approve | deny | escalate [to ROLE, ...] [requiring N approvals]; the words are checked later.
effect : IDENT (TO STRING (COMMA STRING)*)? (REQUIRING INT IDENT)? ;

testDecl : TEST name=STRING LBRACE testMember* RBRACE ;
testMember : givenClause | expectClause ;
givenClause : GIVEN mapLiteral ;
expectClause : EXPECT IDENT (LBRACKET (STRING (COMMA STRING)* COMMA?)? RBRACKET | INT)? ;

// ---- Expressions (CEL) ----

// `a ? b : c ? d : e` is right-associative: parser.cpp folds the list from the right. As in CEL, the
// middle is not a conditional unless parenthesized.
expr : binary (QUESTION binary COLON binary)* ;

binary : operand (binaryOperator operand)* ;

binaryOperator
  : LOGICAL_OR | LOGICAL_AND
  | LESS | LESS_EQUALS | GREATER_EQUALS | GREATER | EQUALS | NOT_EQUALS | IN
  | PLUS | MINUS | STAR | SLASH | PERCENT
  ;

operand : (EXCLAM | MINUS)* primary selector* ;

selector
  : DOT fieldName (LPAREN exprList? RPAREN)?
  | LBRACKET expr RBRACKET
  ;

// Airlock's block words are not reserved after a dot (`x.test` is a field).
fieldName
  : IDENT | POLICY | RULE | LET | WHEN | UNLESS | BECAUSE | OTHERWISE | TEST | GIVEN | EXPECT
  | APPLIES | TO | REQUIRING | DESCRIPTION
  ;

primary
  : IDENT (LPAREN exprList? RPAREN)?
  | LPAREN expr RPAREN
  | LBRACKET (exprList COMMA?)? RBRACKET
  | mapLiteral
  | literal
  ;

mapLiteral : LBRACE (mapEntry (COMMA mapEntry)* COMMA?)? RBRACE ;
mapEntry : expr COLON expr ;

exprList : expr (COMMA expr)* ;

// `10 KiB`: the unit is an identifier, validated by parser.cpp so a typo gets a suggestion.
literal
  : INT IDENT?
  | UINT
  | DOUBLE
  | STRING
  | TRUE
  | FALSE
  | NUL
  ;

// ---- Lexer ----

POLICY : 'policy' ;
RULE : 'rule' ;
LET : 'let' ;
WHEN : 'when' ;
UNLESS : 'unless' ;
BECAUSE : 'because' ;
OTHERWISE : 'otherwise' ;
TEST : 'test' ;
GIVEN : 'given' ;
EXPECT : 'expect' ;
APPLIES : 'applies' ;
TO : 'to' ;
REQUIRING : 'requiring' ;
DESCRIPTION : 'description' ;
TRUE : 'true' ;
FALSE : 'false' ;
NUL : 'null' ;
IN : 'in' ;

LOGICAL_OR : '||' ;
LOGICAL_AND : '&&' ;
EQUALS : '==' ;
NOT_EQUALS : '!=' ;
LESS_EQUALS : '<=' ;
GREATER_EQUALS : '>=' ;
LESS : '<' ;
GREATER : '>' ;
ASSIGN : '=' ;
PLUS : '+' ;
MINUS : '-' ;
STAR : '*' ;
SLASH : '/' ;
PERCENT : '%' ;
EXCLAM : '!' ;
QUESTION : '?' ;
COLON : ':' ;
COMMA : ',' ;
DOT : '.' ;
LPAREN : '(' ;
RPAREN : ')' ;
LBRACKET : '[' ;
RBRACKET : ']' ;
LBRACE : '{' ;
RBRACE : '}' ;

DOUBLE
  : DIGIT+ '.' DIGIT+ EXPONENT?
  | DIGIT+ EXPONENT
  | '.' DIGIT+ EXPONENT?
  ;
UINT : (DIGIT+ | '0' [xX] HEXDIGIT+) [uU] ;
INT : DIGIT+ | '0' [xX] HEXDIGIT+ ;

// Escapes are matched loosely here and decoded (and rejected when invalid) by parser.cpp.
STRING
  : [bB]? ( '"""' (ESC | ~'\\')*? '"""'
          | '\'\'\'' (ESC | ~'\\')*? '\'\'\''
          | '"' (LINE_ESC | ~["\\\r\n])* '"'
          | '\'' (LINE_ESC | ~['\\\r\n])* '\''
          )
  | RAW_PREFIX ( '"""' .*? '"""'
               | '\'\'\'' .*? '\'\'\''
               | '"' ~["\r\n]* '"'
               | '\'' ~['\r\n]* '\''
               )
  ;

// A string with no closing quote: always one character shorter than a STRING when one matches,
// so it only wins when the string is really unterminated. parser.cpp reports it at its start.
UNTERMINATED_STRING
  : [bB]? ( '"""' ( ~["\\] | ESC | '"' ~["\\] | '"' ESC | '""' ~["\\] | '""' ESC )* ('"' '"'?)? '\\'?
          | '\'\'\'' ( ~['\\] | ESC | '\'' ~['\\] | '\'' ESC | '\'\'' ~['\\] | '\'\'' ESC )* ('\'' '\''?)? '\\'?
          | '"' (LINE_ESC | ~["\\\r\n])* '\\'?
          | '\'' (LINE_ESC | ~['\\\r\n])* '\\'?
          )
  | RAW_PREFIX ( '"""' ( ~'"' | '"' ~'"' | '""' ~'"' )* ('"' '"'?)?
               | '\'\'\'' ( ~'\'' | '\'' ~'\'' | '\'\'' ~'\'' )* ('\'' '\''?)?
               | '"' ~["\r\n]*
               | '\'' ~['\r\n]*
               )
  ;

IDENT : [_a-zA-Z] [_a-zA-Z0-9]* ;

LINE_COMMENT : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
// As for strings: shorter than BLOCK_COMMENT whenever the comment is closed.
UNTERMINATED_COMMENT : '/*' ( ~'*' | '*'+ ~[*/] )* '*'* ;

WHITESPACE : [ \t\r\n\f]+ -> skip ;

// Anything else becomes a token of its own, reported by parser.cpp as an unexpected character.
ERROR_CHAR : . ;

fragment DIGIT : [0-9] ;
fragment HEXDIGIT : [0-9a-fA-F] ;
fragment EXPONENT : [eE] [+-]? DIGIT+ ;
fragment ESC : '\\' . ;
fragment LINE_ESC : '\\' ~[\r\n] ;
fragment RAW_PREFIX : [rR] | [rR] [bB] | [bB] [rR] ;
