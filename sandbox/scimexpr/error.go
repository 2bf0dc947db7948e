package scimexpr

// SCIM error types (the "scimType" member of a SCIM error body, RFC 7644 §3.12)
// reported in Error.SCIMType.
const (
	// TypeInvalidFilter marks a filter with invalid syntax.
	TypeInvalidFilter = "invalidFilter"
	// TypeInvalidPath marks an invalid PATCH path or one naming an absent attribute.
	TypeInvalidPath = "invalidPath"
	// TypeInvalidSyntax marks a PATCH body that is unparsable or violates the schema.
	TypeInvalidSyntax = "invalidSyntax"
	// TypeInvalidValue marks a value that is not acceptable for its attribute.
	TypeInvalidValue = "invalidValue"
	// TypeNoTarget marks an add or replace whose value filter selected nothing.
	TypeNoTarget = "noTarget"
)

// DetailInvalidSyntax is the detail Databricks sends with invalidSyntax
// errors, used verbatim for every invalidSyntax error of this package.
const DetailInvalidSyntax = "Request is unparsable, syntactically incorrect, or violates schema."

// Error is a SCIM syntax error. SCIMType is one of the Type* constants
// ("invalidFilter", "invalidPath", "invalidSyntax", "invalidValue" or
// "noTarget"); Detail is the human text for the SCIM error body. The server
// answers it with HTTP 400. Error values are immutable once returned and safe
// for concurrent use.
type Error struct{ SCIMType, Detail string }

// Error formats e as "scimType: detail".
func (e *Error) Error() string {
	return e.SCIMType + ": " + e.Detail
}

func errSyntax() *Error {
	return &Error{SCIMType: TypeInvalidSyntax, Detail: DetailInvalidSyntax}
}

func errNoSuchAttribute(name string) *Error {
	return &Error{
		SCIMType: TypeInvalidPath,
		Detail:   "No such attribute with the name : " + name + " in the current resource",
	}
}
