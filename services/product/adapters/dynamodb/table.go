package dynamodb

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// TableInput is the table's layout (the package doc's), on-demand
// capacity: what CreateTable sends, and what terraform/aws/modules/dynamodb
// must declare (terraform/tfcheck compares the two).
func TableInput(table string) *dynamodb.CreateTableInput {
	s := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{s("PK"), s("SK"), s("catalog"), s("category"), s("id")},
		KeySchema:            key("PK", "SK"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{IndexName: aws.String(IndexCatalog), KeySchema: key("catalog", "id"), Projection: all},
			{IndexName: aws.String(IndexByCategory), KeySchema: key("category", "id"), Projection: all},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// CreateTable creates table with the layout of the package doc (on-demand
// capacity) unless it exists, and waits at most wait for it to be active.
// Terraform owns the table in AWS; the local and host envs (moto_server) and
// the tests call this when the env says create_resources: true.
func CreateTable(ctx context.Context, api TableAPI, table string, wait time.Duration) error {
	_, err := api.CreateTable(ctx, TableInput(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return storeErr(err, "create table "+table)
	}
	if err := dynamodb.NewTableExistsWaiter(api).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, wait); err != nil {
		return storeErr(err, "wait for table "+table)
	}
	return nil
}
